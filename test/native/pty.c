// openRawPty(): a new Unix 98 pseudo-terminal in raw mode, for the serial tests' cable twin
// (test/helpers/pty.ts). Node has no posix_openpt/unlockpt, and a pty set raw through Node's
// tty.setRawMode keeps output processing (\n becomes \r\n), so a few lines of C do it here.
// Returns { master, slave, path }: the master fd (non-blocking), an fd on the slave held open so
// the master never reads EIO while no user has the device open, and the slave's path.
//
// startRelay(masterA, masterB) / stopRelay(relay): a thread that copies each master's output into
// the other master (or one master into itself when both are the same fd: a loopback plug). libuv
// writes a pty master in blocking mode, so a relay on the event loop had to retry non-blocking
// writes on a timer; this thread sleeps in poll(2) instead and moves bytes as soon as either side
// is ready, unchanged. A full far tty stops reading the near one (a cable's flow control).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

static napi_value fail(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value open_raw_pty(napi_env env, napi_callback_info info) {
  (void)info;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return fail(env, "posix_openpt", errno);
  char path[128];
  int slave = -1;
  struct termios t;
  const char *step = "grantpt";
  if (grantpt(master) != 0) goto error;
  step = "unlockpt";
  if (unlockpt(master) != 0) goto error;
  step = "ptsname_r";
  if (ptsname_r(master, path, sizeof path) != 0) goto error;
  step = "open slave";
  slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (slave < 0) goto error;
  // A cable passes bytes as they are: no echo, no line editing, no \n → \r\n, 8 data bits.
  step = "tcgetattr";
  if (tcgetattr(slave, &t) != 0) goto error;
  cfmakeraw(&t);
  step = "tcsetattr";
  if (tcsetattr(slave, TCSANOW, &t) != 0) goto error;
  step = "fcntl";
  int flags = fcntl(master, F_GETFL);
  if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) != 0) goto error;

  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_int32(env, master, &v);
  napi_set_named_property(env, out, "master", v);
  napi_create_int32(env, slave, &v);
  napi_set_named_property(env, out, "slave", v);
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "path", v);
  return out;

error: {
    int err = errno;
    if (slave >= 0) close(slave);
    close(master);
    return fail(env, step, err);
  }
}

/** Bytes read from one master, waiting to be written into the other. */
#define RELAY_BUF (64 * 1024)

struct direction {
  int from, to;
  size_t start, end; // buf[start, end) is still to be written
  unsigned char buf[RELAY_BUF];
};

struct relay {
  pthread_t thread;
  int wake;  // eventfd: stopRelay() writes it, the thread returns
  int count; // directions: 2 for a pair, 1 for a loopback
  int running;
  int err;   // errno that ended the thread early, 0 if none
  const char *what;
  struct direction dir[2];
};

// Moves what is ready in one direction; returns -1 with errno set on a real error. Bytes just read
// are written at once: the far tty usually has room, which saves a round through poll().
static int step(struct direction *d, int readable) {
  if (readable && d->end < RELAY_BUF) {
    ssize_t n = read(d->from, d->buf + d->end, RELAY_BUF - d->end);
    if (n > 0) d->end += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
  }
  if (d->end > d->start) {
    ssize_t n = write(d->to, d->buf + d->start, d->end - d->start);
    if (n > 0) d->start += (size_t)n;
    else if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
    if (d->start == d->end) d->start = d->end = 0;
  }
  return 0;
}

static void *relay_main(void *arg) {
  struct relay *r = arg;
  for (;;) {
    // One entry per direction's source and sink, plus the wake-up: [wake, from0, to0, from1, to1].
    struct pollfd p[5] = {{.fd = r->wake, .events = POLLIN}};
    int n = 1;
    for (int i = 0; i < r->count; i++) {
      struct direction *d = &r->dir[i];
      // Read only while there is room (flow control); wait to write only while bytes wait.
      p[n++] = (struct pollfd){.fd = d->end < RELAY_BUF ? d->from : -1, .events = POLLIN};
      p[n++] = (struct pollfd){.fd = d->end > d->start ? d->to : -1, .events = POLLOUT};
    }
    if (poll(p, n, -1) < 0) {
      if (errno == EINTR) continue;
      r->err = errno, r->what = "poll";
      return NULL;
    }
    if (p[0].revents) return NULL;
    for (int i = 1; i < n; i++) {
      // The held slave fd keeps a master from hanging up; if one does, poll() would spin: stop.
      if (p[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        r->err = EIO, r->what = "pty relay: a master hung up";
        return NULL;
      }
    }
    for (int i = 0; i < r->count; i++) {
      if (step(&r->dir[i], p[1 + 2 * i].revents & POLLIN) != 0) {
        r->err = errno, r->what = "pty relay";
        return NULL;
      }
    }
  }
}

static void relay_stop(struct relay *r) {
  if (!r->running) return;
  uint64_t one = 1;
  while (write(r->wake, &one, sizeof one) < 0 && errno == EINTR) {
  }
  pthread_join(r->thread, NULL);
  close(r->wake);
  r->running = 0;
}

// A relay the script dropped without stopRelay() (or whose environment is torn down) stops here.
static void relay_finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  relay_stop(data);
  free(data);
}

static napi_value start_relay(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t a, b;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &a) != napi_ok ||
      napi_get_value_int32(env, argv[1], &b) != napi_ok || a < 0 || b < 0) {
    napi_throw_type_error(env, NULL, "startRelay(masterA, masterB): two file descriptors");
    return NULL;
  }
  struct relay *r = calloc(1, sizeof *r);
  if (!r) return fail(env, "startRelay", ENOMEM);
  r->dir[0] = (struct direction){.from = a, .to = b};
  r->dir[1] = (struct direction){.from = b, .to = a};
  r->count = a == b ? 1 : 2;
  r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->wake < 0) {
    int err = errno;
    free(r);
    return fail(env, "eventfd", err);
  }
  int err = pthread_create(&r->thread, NULL, relay_main, r);
  if (err != 0) {
    close(r->wake);
    free(r);
    return fail(env, "pthread_create", err);
  }
  r->running = 1;
  napi_value out;
  if (napi_create_external(env, r, relay_finalize, NULL, &out) != napi_ok) {
    relay_stop(r);
    free(r);
    return NULL;
  }
  return out;
}

static napi_value stop_relay(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, NULL, "stopRelay(relay): a relay from startRelay()");
    return NULL;
  }
  struct relay *r = data;
  relay_stop(r);
  if (r->err) {
    int err = r->err;
    r->err = 0;
    return fail(env, r->what, err);
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"openRawPty", open_raw_pty}, {"startRelay", start_relay}, {"stopRelay", stop_relay}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
