/* The few libc-like helpers the core needs, plus the symbols GCC may emit calls to. */
#include "fw.h"

void *fw_memcpy(void *d, const void *s, size_t n) {
  uint8_t *dp = d;
  const uint8_t *sp = s;
  for (size_t i = 0; i < n; i++) dp[i] = sp[i];
  return d;
}

void fw_memset(void *d, int v, size_t n) {
  volatile uint8_t *dp = d;
  for (size_t i = 0; i < n; i++) dp[i] = (uint8_t)v;
}

size_t fw_strnlen(const char *s, size_t max) {
  size_t n = 0;
  while (n < max && s[n]) n++;
  return n;
}

int fw_strncmp(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) return (uint8_t)a[i] - (uint8_t)b[i];
    if (!a[i]) return 0;
  }
  return 0;
}

void *fw_window(uint64_t pa, uint32_t len, uint64_t base, uint64_t size, void *cpu) {
  if (pa < base || pa - base > size || len > size - (pa - base)) return NULL;
  return (void *)((uintptr_t)cpu + (uintptr_t)(pa - base)); /* integer sum: cpu may be address 0 */
}

#ifndef FW_HOSTED
void *memcpy(void *d, const void *s, size_t n) { return fw_memcpy(d, s, n); }
void *memset(void *d, int v, size_t n) { fw_memset(d, v, n); return d; }
void *memmove(void *d, const void *s, size_t n) {
  uint8_t *dp = d;
  const uint8_t *sp = s;
  if (dp < sp) for (size_t i = 0; i < n; i++) dp[i] = sp[i];
  else for (size_t i = n; i > 0; i--) dp[i - 1] = sp[i - 1];
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = a, *y = b;
  for (size_t i = 0; i < n; i++) if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
#endif
