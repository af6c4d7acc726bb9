/*
 * berth-pty: an interactive command in a VM, on a pty, over a virtio-serial
 * port. qemu-guest-agent has no pty and takes stdin only at start, so for
 * `lxc exec v1 -- sh` (and the web terminal) the engine hot-plugs a
 * virtio-serial port named for the session, starts this helper through
 * guest-exec, and talks to it over that port:
 *
 *   berth-pty PORT-NAME COLS ROWS -- COMMAND [ARG...]
 *
 * host -> guest: frames of [type:1][length:2, big-endian][payload]:
 *   0 data   bytes for the pty (what the user types)
 *   1 resize cols:2 rows:2 (big-endian)
 *   2 signal signo:1, sent to the command's process group
 * guest -> host: the pty's output, raw.
 *
 * The helper exits with the command's status (128 + signal when killed),
 * which guest-exec-status reports. When the host side goes away the
 * command gets SIGHUP, as a closed terminal gives it.
 *
 * Built static at image build time (images/tiny-vm-*.ts) so it runs in any
 * x86_64 guest; it uses nothing but libc.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int open_port(const char *name) {
  DIR *dir = opendir("/sys/class/virtio-ports");
  struct dirent *entry;
  char path[512], found[256];
  if (!dir) return -1;
  while ((entry = readdir(dir))) {
    if (entry->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", entry->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int ok = fgets(found, sizeof found, f) != NULL;
    fclose(f);
    if (!ok) continue;
    found[strcspn(found, "\n")] = 0;
    if (strcmp(found, name) == 0) {
      snprintf(path, sizeof path, "/dev/%s", entry->d_name);
      closedir(dir);
      return open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    }
  }
  closedir(dir);
  errno = ENOENT;
  return -1;
}

static int write_all(int fd, const unsigned char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Frames arrive split anywhere: keep what is not yet a whole frame. */
static unsigned char pending[65536 + 3];
static size_t pending_len;

static void handle_frames(int master, pid_t child) {
  size_t at = 0;
  while (pending_len - at >= 3) {
    unsigned type = pending[at];
    size_t len = ((size_t)pending[at + 1] << 8) | pending[at + 2];
    if (pending_len - at < 3 + len) break;
    unsigned char *p = pending + at + 3;
    if (type == 0) {
      write_all(master, p, len);
    } else if (type == 1 && len == 4) {
      struct winsize ws = {0};
      ws.ws_col = (unsigned short)((p[0] << 8) | p[1]);
      ws.ws_row = (unsigned short)((p[2] << 8) | p[3]);
      ioctl(master, TIOCSWINSZ, &ws);
    } else if (type == 2 && len == 1) {
      kill(-child, p[0]);
    }
    at += 3 + len;
  }
  memmove(pending, pending + at, pending_len - at);
  pending_len -= at;
}

int main(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: berth-pty PORT-NAME COLS ROWS -- COMMAND [ARG...]\n");
    return 2;
  }
  int port = open_port(argv[1]);
  if (port < 0) {
    fprintf(stderr, "berth-pty: virtio port %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  struct winsize ws = {0};
  ws.ws_col = (unsigned short)atoi(argv[2]);
  ws.ws_row = (unsigned short)atoi(argv[3]);
  int master;
  pid_t child = forkpty(&master, NULL, NULL, &ws);
  if (child < 0) {
    fprintf(stderr, "berth-pty: forkpty: %s\n", strerror(errno));
    return 2;
  }
  if (child == 0) {
    close(port);
    execvp(argv[5], argv + 5);
    fprintf(stderr, "berth-pty: %s: %s\r\n", argv[5], strerror(errno));
    _exit(127);
  }

  unsigned char buf[16384];
  int host_open = 1;
  for (;;) {
    struct pollfd fds[2] = {{master, POLLIN, 0}, {port, POLLIN, 0}};
    int n = poll(fds, host_open ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(master, buf, sizeof buf);
      if (r <= 0) break; /* EIO: the command and everything on the pty are gone */
      if (host_open && write_all(port, buf, (size_t)r) < 0) host_open = 0;
    }
    if (host_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(port, pending + pending_len, sizeof pending - pending_len);
      if (r <= 0) {
        /* The host hung up: as a closed terminal. */
        host_open = 0;
        kill(-child, SIGHUP);
      } else {
        pending_len += (size_t)r;
        handle_frames(master, child);
      }
    }
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  close(port);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}
