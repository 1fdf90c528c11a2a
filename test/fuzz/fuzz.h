/*
 * The libFuzzer entry point every target defines. With clang and
 * --enable-fuzzing it is driven by libFuzzer; otherwise replay.c feeds it
 * the checked-in corpus as a regression test.
 */
#ifndef WSG_FUZZ_H
#define WSG_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
