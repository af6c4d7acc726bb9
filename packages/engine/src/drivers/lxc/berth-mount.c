/*
 * berth-mount: hot-plugs a host path into a running container, and takes it
 * out again, as LXD's forkmount does with the new mount API:
 *
 *   berth-mount attach PID SOURCE TARGET UID GID [ro] [recursive]
 *   berth-mount detach PID TARGET
 *
 * attach clones SOURCE as a detached mount on the host (open_tree), makes it
 * read-only if asked (mount_setattr), enters the container's mount namespace
 * (setns: root and cwd become the container's root, so TARGET and any
 * symlink in it resolve inside the container, never on the host), creates
 * TARGET (directories, or an empty file for a file source) owned by UID:GID
 * (the container's root as the host sees it), and moves the clone onto it.
 * detach lazily unmounts TARGET inside the container.
 *
 * Single-threaded on purpose: setns into a mount namespace refuses a
 * multi-threaded caller. Errors go to stderr as one line; exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void die(const char *what, const char *arg) {
  fprintf(stderr, "%s %s: %s\n", what, arg, strerror(errno));
  exit(1);
}

static void enter(const char *pid) {
  char ns[64];
  snprintf(ns, sizeof ns, "/proc/%s/ns/mnt", pid);
  int fd = open(ns, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die("cannot open the mount namespace of", pid);
  if (setns(fd, CLONE_NEWNS) < 0) die("cannot enter the mount namespace of", pid);
  close(fd);
  /* setns leaves cwd alone on some kernels: go to the container's root. */
  if (chdir("/") < 0) die("cannot change to the container's root of", pid);
}

/* mkdir -p of TARGET's parents, each made owned by uid:gid. */
static void make_parents(char *target, uid_t uid, gid_t gid) {
  for (char *p = target + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(target, 0755) == 0) {
      if (chown(target, uid, gid) < 0) die("cannot chown", target);
    } else if (errno != EEXIST) {
      die("cannot create", target);
    }
    *p = '/';
  }
}

static int attach(char **argv, int argc) {
  const char *pid = argv[2], *source = argv[3];
  char target[PATH_MAX];
  if (snprintf(target, sizeof target, "%s", argv[4]) >= (int)sizeof target || target[0] != '/') {
    fprintf(stderr, "target must be an absolute path\n");
    return 1;
  }
  uid_t uid = (uid_t)strtoul(argv[5], NULL, 10);
  gid_t gid = (gid_t)strtoul(argv[6], NULL, 10);
  int readonly = 0, recursive = 0;
  for (int i = 7; i < argc; i++) {
    if (strcmp(argv[i], "ro") == 0) readonly = 1;
    else if (strcmp(argv[i], "recursive") == 0) recursive = 1;
  }

  struct stat st;
  if (stat(source, &st) < 0) die("cannot stat the source", source);
  int tree = open_tree(AT_FDCWD, source,
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0));
  if (tree < 0) die("cannot clone a mount of", source);
  if (readonly) {
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (mount_setattr(tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
                      sizeof attr) < 0)
      die("cannot make read-only the mount of", source);
  }

  enter(pid);
  make_parents(target, uid, gid);
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(target, 0755) == 0) {
      if (chown(target, uid, gid) < 0) die("cannot chown", target);
    } else if (errno != EEXIST) {
      die("cannot create", target);
    }
  } else {
    int f = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (f < 0) die("cannot create", target);
    if (fchown(f, uid, gid) < 0) die("cannot chown", target);
    close(f);
  }
  if (move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
    die("cannot mount onto", target);
  return 0;
}

static int detach(char **argv) {
  const char *pid = argv[2], *target = argv[3];
  enter(pid);
  if (umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    die("cannot unmount", target);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 7 && strcmp(argv[1], "attach") == 0) return attach(argv, argc);
  if (argc == 4 && strcmp(argv[1], "detach") == 0) return detach(argv);
  fprintf(stderr,
          "usage: berth-mount attach PID SOURCE TARGET UID GID [ro] [recursive]\n"
          "       berth-mount detach PID TARGET\n");
  return 2;
}
