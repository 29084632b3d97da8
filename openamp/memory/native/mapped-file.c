/*
 * mapped-file: maps a shared-memory file (/dev/shm, a QEMU memory-backend file) into this
 * process as an external ArrayBuffer, so the host reads and writes the rings with plain loads
 * and stores instead of a pread/pwrite system call per field (open-amp's hosts mmap it too).
 *
 *   map(fd, size)  -> ArrayBuffer over [0, size) of the file (MAP_SHARED, read/write)
 *   unmap(buffer)  -> detaches the ArrayBuffer (every view then has length 0), then munmap
 *   faults()       -> Int32Array(1): bus errors absorbed so far, in any mapping
 *   yieldCpu()     -> sched_yield(): a host spinning on rings in such a mapping lets a peer
 *                     that waits for this core run now (see RpmsgVirtioOptions.spinYield)
 *
 * The other side owns the file and may shrink it (a hostile remote, a QEMU that died): a load
 * or store past the new end raises SIGBUS, which would kill the farm. The handler below maps a
 * private zero page over the faulting page of one of OUR mappings and counts the fault; the
 * access then completes on that page and the TypeScript side, which checks the counter on every
 * access, reports a MemoryAccessError. Faults outside our mappings go to the previous handler.
 * Built against Node's own headers by `npm run build` (scripts in package.json).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <node_api.h>

#define MAX_MAPPINGS 64

/* One live mapping, as the bus-error handler sees it (base NULL = free slot). */
struct mapping {
  void *volatile base;
  volatile size_t size;
};

/*
 * What the ArrayBuffer's finalizer gets: it may run long after an explicit unmap, when mmap has
 * handed the same address to a new mapping, so it must know whether its own pages are gone.
 */
struct mapping_handle {
  void *base;
  size_t size;
  int unmapped;
};

static struct mapping mappings[MAX_MAPPINGS];
static int32_t fault_count[1];
static struct sigaction previous_bus;
static int handler_installed;

static void on_bus_error(int sig, siginfo_t *info, void *context) {
  uintptr_t address = (uintptr_t)info->si_addr;
  for (int i = 0; i < MAX_MAPPINGS; i++) {
    uintptr_t base = (uintptr_t)mappings[i].base;
    if (!base || address < base || address >= base + mappings[i].size) continue;
    long page = sysconf(_SC_PAGESIZE);
    void *at = (void *)(address & ~(uintptr_t)(page - 1));
    if (mmap(at, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) break;
    __atomic_add_fetch(&fault_count[0], 1, __ATOMIC_SEQ_CST);
    return;
  }
  /* Not ours: as if we had never been here. */
  if (previous_bus.sa_flags & SA_SIGINFO) {
    previous_bus.sa_sigaction(sig, info, context);
  } else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
    previous_bus.sa_handler(sig);
  } else {
    signal(SIGBUS, SIG_DFL);
    raise(SIGBUS);
  }
}

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

static struct mapping *slot_for(void *base) {
  for (int i = 0; i < MAX_MAPPINGS; i++)
    if (mappings[i].base == base) return &mappings[i];
  return NULL;
}

static void release(struct mapping_handle *handle) {
  if (handle->unmapped) return;
  handle->unmapped = 1;
  struct mapping *m = slot_for(handle->base);
  if (m) __atomic_store_n(&m->base, NULL, __ATOMIC_SEQ_CST);
  munmap(handle->base, handle->size);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  release(hint);
  free(hint);
}

static napi_value map_file(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) return throw_error(env, "map(fd, size)");
  int32_t fd;
  int64_t size;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int64(env, argv[1], &size) != napi_ok || fd < 0 || size <= 0)
    return throw_error(env, "map(fd, size): fd must be a descriptor and size positive");
  if (!handler_installed) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &previous_bus) != 0) return throw_error(env, "cannot install the SIGBUS handler");
    handler_installed = 1;
  }
  struct mapping *slot = slot_for(NULL);
  if (!slot) return throw_error(env, "too many mapped files (64)");
  void *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return throw_error(env, strerror(errno));
  struct mapping_handle *handle = malloc(sizeof *handle);
  if (!handle) {
    munmap(base, (size_t)size);
    return throw_error(env, "out of memory");
  }
  *handle = (struct mapping_handle){ .base = base, .size = (size_t)size, .unmapped = 0 };
  slot->size = (size_t)size;
  __atomic_store_n(&slot->base, base, __ATOMIC_SEQ_CST);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, base, (size_t)size, finalize, handle, &buffer) != napi_ok) {
    release(handle);
    free(handle);
    return throw_error(env, "cannot wrap the mapping in an ArrayBuffer");
  }
  /* The handle rides on the buffer too, so unmap() can find it. */
  if (napi_wrap(env, buffer, handle, NULL, NULL, NULL) != napi_ok) return throw_error(env, "cannot tag the mapping");
  return buffer;
}

static napi_value unmap_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1) return throw_error(env, "unmap(buffer)");
  void *base;
  size_t length;
  bool detached;
  if (napi_is_detached_arraybuffer(env, argv[0], &detached) != napi_ok) return throw_error(env, "unmap(buffer): not an ArrayBuffer");
  if (detached) return NULL;
  if (napi_get_arraybuffer_info(env, argv[0], &base, &length) != napi_ok) return throw_error(env, "unmap(buffer): not an ArrayBuffer");
  struct mapping_handle *handle;
  if (napi_unwrap(env, argv[0], (void **)&handle) != napi_ok || handle->base != base) return throw_error(env, "unmap(buffer): not a mapping of ours");
  /* Views must see length 0 before the pages go: a late access then reads nothing instead of faulting. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) return throw_error(env, "unmap(buffer): cannot detach");
  release(handle); /* the finalizer frees the handle later */
  return NULL;
}

static napi_value faults(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value buffer, array;
  if (napi_create_external_arraybuffer(env, fault_count, sizeof fault_count, NULL, NULL, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, 1, buffer, 0, &array) != napi_ok)
    return throw_error(env, "cannot expose the fault counter");
  return array;
}

static napi_value yield_cpu(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  sched_yield();
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
    { "map", NULL, map_file, NULL, NULL, NULL, napi_default, NULL },
    { "unmap", NULL, unmap_file, NULL, NULL, NULL, napi_default, NULL },
    { "faults", NULL, faults, NULL, NULL, NULL, napi_default, NULL },
    { "yieldCpu", NULL, yield_cpu, NULL, NULL, NULL, napi_default, NULL },
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
