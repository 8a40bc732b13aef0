// A mistake on the command line (missing argument, unknown capability, a file it cannot use): `main`
// prints the message alone and exits 2. Each command's module has its own subclass; `main` catches
// them by this class, so it need not load those modules before their command runs.

export class CommandError extends Error {}
