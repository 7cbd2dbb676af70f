/* Removes a test's temporary directory and everything in it (the tests that need files make
 * one with mkdtemp under /tmp). */
#ifndef WSSGATE_TESTS_RM_TREE_H
#define WSSGATE_TESTS_RM_TREE_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int rm_tree_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* 0, or -1 when something could not be removed. */
static inline int rm_tree(const char *path)
{
    return nftw(path, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
