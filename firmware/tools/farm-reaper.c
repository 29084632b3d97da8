/*
 * farm-reaper: runs a command and makes sure the command's whole process tree ends with it,
 * even children that left its process group and session (setsid) or were orphaned: the
 * farm signals a remote's process group, which such children have escaped.
 *
 *   farm-reaper [--grace-ms N] -- command [args...]
 *
 * How: it is a child subreaper (PR_SET_CHILD_SUBREAPER), so every orphaned descendant is
 * reparented to it instead of to init and stays findable as a descendant (/proc/<pid>/stat).
 * - When the command exits, every descendant left is SIGKILLed and reaped, and the reaper
 *   exits as the command did (same exit code, or dies of the same signal).
 * - SIGTERM, SIGINT or SIGHUP (a stop, or the farm's Ctrl-C) goes to every descendant; those
 *   still alive after the grace (default 1000 ms) are SIGKILLed. The farm dying, even of
 *   SIGKILL, delivers SIGTERM to the reaper (PR_SET_PDEATHSIG), which then does the same.
 * Other signals sent to the process group (a fault injected as SIGSEGV, SIGSTOP/SIGCONT) are
 * for the command: the reaper ignores them, and the command starts with default dispositions
 * and the caller's signal mask.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const int IGNORED[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGQUIT, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU };

static long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* Signals every descendant of this process (found through /proc: pid -> ppid). Returns how many. */
static int signal_descendants(int sig) {
  size_t cap = 4096, n = 0;
  int *pids = malloc(cap * sizeof *pids), *ppids = malloc(cap * sizeof *ppids);
  if (!pids || !ppids) return 0;
  DIR *proc = opendir("/proc");
  if (!proc) return 0;
  struct dirent *entry;
  while ((entry = readdir(proc)) != NULL) {
    char *end;
    long pid = strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses; ppid follows the last ')'. */
    char *close = strrchr(buf, ')');
    int ppid;
    char state;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2) continue;
    if (n == cap) {
      cap *= 2;
      int *p = realloc(pids, cap * sizeof *pids), *q = realloc(ppids, cap * sizeof *ppids);
      if (!p || !q) break;
      pids = p;
      ppids = q;
    }
    pids[n] = (int)pid;
    ppids[n] = ppid;
    n++;
  }
  closedir(proc);
  /* Mark descendants until nothing changes (bounded: each round marks at least one more). */
  char *mine = calloc(n ? n : 1, 1);
  int self = getpid(), count = 0, changed = 1;
  while (changed && mine) {
    changed = 0;
    for (size_t i = 0; i < n; i++) {
      if (mine[i]) continue;
      int parent_mine = ppids[i] == self;
      for (size_t j = 0; !parent_mine && j < n; j++) parent_mine = mine[j] && pids[j] == ppids[i];
      if (parent_mine) {
        mine[i] = 1;
        changed = 1;
      }
    }
  }
  for (size_t i = 0; mine && i < n; i++) {
    if (mine[i] && kill(pids[i], sig) == 0) count++;
  }
  free(mine);
  free(pids);
  free(ppids);
  return count;
}

/* Reaps whatever exited; records the command's status. Returns 1 when no child is left. */
static int reap(pid_t command, int *command_done, int *command_status) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      if (pid == command) {
        *command_done = 1;
        *command_status = status;
      }
      continue;
    }
    return pid < 0 && errno == ECHILD;
  }
}

static void exit_like(int status) {
  if (WIFEXITED(status)) exit(WEXITSTATUS(status));
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
  struct rlimit no_core = { 0, 0 };
  setrlimit(RLIMIT_CORE, &no_core);
  signal(sig, SIG_DFL);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  sigprocmask(SIG_UNBLOCK, &only, NULL);
  raise(sig);
  exit(128 + sig);
}

int main(int argc, char **argv) {
  long grace_ms = 1000;
  int first = 1;
  while (first < argc && strcmp(argv[first], "--") != 0) {
    if (!strcmp(argv[first], "--grace-ms") && first + 1 < argc) {
      grace_ms = strtol(argv[first + 1], NULL, 10);
      first += 2;
    } else {
      break;
    }
  }
  if (first < argc && !strcmp(argv[first], "--")) first++;
  if (first >= argc) {
    fprintf(stderr, "usage: farm-reaper [--grace-ms N] -- command [args...]\n");
    return 2;
  }
  pid_t parent = getppid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) perror("farm-reaper: PR_SET_CHILD_SUBREAPER");
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != parent) return 1; /* the farm died before we could ask to hear of it */

  sigset_t handled, original;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  sigaddset(&handled, SIGCHLD);
  sigprocmask(SIG_BLOCK, &handled, &original);

  pid_t command = fork();
  if (command < 0) {
    perror("farm-reaper: fork");
    return 2;
  }
  if (command == 0) {
    sigprocmask(SIG_SETMASK, &original, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* if the reaper itself is SIGKILLed, the command goes too */
    execvp(argv[first], argv + first);
    fprintf(stderr, "farm-reaper: cannot run %s: %s\n", argv[first], strerror(errno));
    _exit(127);
  }
  for (size_t i = 0; i < sizeof IGNORED / sizeof IGNORED[0]; i++) signal(IGNORED[i], SIG_IGN);

  int command_done = 0, command_status = 0, terminating = 0, killed = 0;
  long deadline = 0;
  for (;;) {
    struct timespec tick = { 0, 50 * 1000000L };
    siginfo_t info;
    int sig = sigtimedwait(&handled, &info, &tick);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      if (!terminating) {
        terminating = 1;
        deadline = now_ms() + grace_ms;
        signal_descendants(SIGTERM);
      }
    }
    int none_left = reap(command, &command_done, &command_status);
    if (command_done && !terminating) {
      /* The command ended: nothing it started may outlive it. */
      terminating = 1;
      killed = 1;
      deadline = now_ms();
      signal_descendants(SIGKILL);
      none_left = reap(command, &command_done, &command_status);
    }
    if (terminating && !killed && now_ms() >= deadline) {
      killed = 1;
      signal_descendants(SIGKILL);
    }
    if (none_left && command_done) exit_like(command_status);
    if (none_left && !command_done) exit_like(SIGKILL); /* cannot happen: the command is our child */
  }
}
