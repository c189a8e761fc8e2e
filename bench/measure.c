/* measure: runs a command and prints "<wall_us> <cpu_us> <maxrss_kib> <exit_status>" for it.
 *
 * A tiny C launcher so that the child's peak RSS is its own: Linux folds the pre-exec memory of a
 * forked parent into ru_maxrss, so a Python or C++ parent would inflate it. Usage:
 *   measure CMD [ARGS...]      (the command's stdout/stderr are inherited) */
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: measure CMD [ARGS...]\n");
    return 2;
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid;
  if (posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) {
    perror("posix_spawnp");
    return 2;
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long wall_us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
  long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
  fprintf(stdout, "%ld %ld %ld %d\n", wall_us, cpu_us, ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}
