#include "agent/compute/diff.h"

#include <doctest/doctest.h>

#include <string>

using agent::compute::unified_diff;

namespace {

// "1\n2\n...\nn\n" with the listed line numbers replaced.
std::string numbered(int n, std::initializer_list<std::pair<int, const char*>> replaced = {}) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    std::string line = std::to_string(i);
    for (const auto& [at, text] : replaced) {
      if (at == i) line = text;
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("the diff of equal texts is empty") {
  CHECK(unified_diff("", "", "/etc/x").empty());
  CHECK(unified_diff("a\nb\n", "a\nb\n", "/etc/x").empty());
  CHECK(unified_diff("no newline", "no newline", "/etc/x").empty());
}

TEST_CASE("a new file is one hunk of additions against an empty original") {
  CHECK(unified_diff("", "a\nb\n", "/etc/eks/x.conf") ==
        "--- a/etc/eks/x.conf\n"
        "+++ b/etc/eks/x.conf\n"
        "@@ -0,0 +1,2 @@\n"
        "+a\n"
        "+b\n");
}

TEST_CASE("an emptied file is one hunk of removals") {
  CHECK(unified_diff("a\nb\n", "", "/x") ==
        "--- a/x\n"
        "+++ b/x\n"
        "@@ -1,2 +0,0 @@\n"
        "-a\n"
        "-b\n");
}

TEST_CASE("a changed line shows three lines of context, the old line first") {
  CHECK(unified_diff(numbered(10), numbered(10, {{5, "X"}}), "/x") ==
        "--- a/x\n+++ b/x\n"
        "@@ -2,7 +2,7 @@\n"
        " 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n");
}

TEST_CASE("a fully replaced file lists every removal before the additions") {
  CHECK(unified_diff("a\nb\n", "x\ny\n", "/x") == "--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n-b\n+x\n+y\n");
}

TEST_CASE("added and removed lines shift the new side's numbering") {
  SUBCASE("an addition") {
    CHECK(unified_diff(numbered(6), "1\n2\n3\nnew\n4\n5\n6\n", "/x") ==
          "--- a/x\n+++ b/x\n@@ -1,6 +1,7 @@\n 1\n 2\n 3\n+new\n 4\n 5\n 6\n");
  }
  SUBCASE("a removal") {
    CHECK(unified_diff(numbered(8), "1\n2\n3\n4\n6\n7\n8\n", "/x") ==
          "--- a/x\n+++ b/x\n@@ -2,7 +2,6 @@\n 2\n 3\n 4\n-5\n 6\n 7\n 8\n");
  }
  SUBCASE("an addition at the top") {
    CHECK(unified_diff("a\n", "top\na\n", "/x") == "--- a/x\n+++ b/x\n@@ -1,1 +1,2 @@\n+top\n a\n");
  }
}

TEST_CASE("changes far apart get separate hunks, close ones share a hunk") {
  CHECK(unified_diff(numbered(20), numbered(20, {{2, "X"}, {18, "Y"}}), "/x") ==
        "--- a/x\n+++ b/x\n"
        "@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n"
        "@@ -15,6 +15,6 @@\n 15\n 16\n 17\n-18\n+Y\n 19\n 20\n");
  CHECK(unified_diff(numbered(20), numbered(20, {{2, "X"}, {9, "Y"}}), "/x") ==
        "--- a/x\n+++ b/x\n"
        "@@ -1,12 +1,12 @@\n 1\n-2\n+X\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+Y\n 10\n 11\n 12\n");
}

TEST_CASE("a missing final newline is marked") {
  CHECK(unified_diff("a", "b", "/x") ==
        "--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n"
        "-a\n\\ No newline at end of file\n"
        "+b\n\\ No newline at end of file\n");
  CHECK(unified_diff("a\n", "a", "/x") ==
        "--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n"
        "-a\n"
        "+a\n\\ No newline at end of file\n");
}
