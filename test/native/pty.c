// openRawPty(): a new Unix 98 pseudo-terminal in raw mode, for the serial tests' cable twin
// (test/helpers/pty.ts). Node has no posix_openpt/unlockpt, and a pty set raw through Node's
// tty.setRawMode keeps output processing (\n becomes \r\n), so a few lines of C do it here.
// Returns { master, slave, path }: the master fd (non-blocking), an fd on the slave held open so
// the master never reads EIO while no user has the device open, and the slave's path.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "openRawPty", NAPI_AUTO_LENGTH, open_raw_pty, NULL, &fn);
  napi_set_named_property(env, exports, "openRawPty", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
