/* An SD card's fsync on a fast disk: LD_PRELOAD this and every fsync/fdatasync of the process
 * first sleeps PYROSTAGE_BENCH_FSYNC_US microseconds, then syncs for real (bench/slowdisk.py). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void lag(void) {
    const char *text = getenv("PYROSTAGE_BENCH_FSYNC_US");
    long us = text ? atol(text) : 0;
    if (us > 0) {
        struct timespec t = {us / 1000000, (us % 1000000) * 1000};
        nanosleep(&t, NULL);
    }
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    lag();
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    lag();
    return real(fd);
}
