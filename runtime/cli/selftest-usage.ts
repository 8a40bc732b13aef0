// `signalk-edge selftest`'s usage lines, for the command's own errors and for `main`'s help.

export const SELFTEST_USAGE = `       signalk-edge selftest [--serial A[,B]] [--baud N] [--lines N] [--can IFACE | --can-twin]
                             [--frames-rounds N] [--plugin ID] [--report FILE] [--settings FILE] [--data DIR]`;

export const SELFTEST_HELP = `  selftest   hardware-in-the-loop checks (docs/hil.md); stop the service first, devices are exclusive
             --serial A,B  two ports wired to each other (null-modem); --serial A: one port, TX looped to RX
             --baud N      rate (default: the settings' source on that port, else 4800); --lines N (default 40)
             --can IFACE   N2K frames sent and read back on a SocketCAN interface (loopback mode or a second node)
             --can-twin    the same frames played from a candump log instead of hardware (reported as a twin)
             --plugin ID   start that installed plugin on those devices under its grants; report what it emitted
             --report FILE write the results as JSON; exit 1 on a failure, 2 when nothing could be tested`;
