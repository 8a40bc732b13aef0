// `signalk-edge user ...` and `signalk-edge access ...`: users and device access requests, written to
// <data>/security/ where a running service sees them within a second.

import { createInterface } from 'node:readline';
import type { Settings } from '../config/settings.js';
import { hashPassword } from '../security/passwords.js';
import { DEFAULT_DEVICE_TTL_S } from '../security/settings.js';
import { checkUsername, PERMISSIONS, SecurityError, SecurityStore, type Permission } from '../security/store.js';
import { TokenService } from '../security/tokens.js';
import { CommandError } from './command-error.js';

export class SecurityCommandError extends CommandError {}

export const MIN_PASSWORD_LENGTH = 8;

function permissionOf(value: string | undefined, fallback: Permission): Permission {
  if (value === undefined) return fallback;
  if (!PERMISSIONS.includes(value as Permission))
    throw new SecurityCommandError(
      `--permission must be one of ${PERMISSIONS.join(', ')}, got ${JSON.stringify(value)}`,
    );
  return value as Permission;
}

/** A password from a terminal (asked twice, not echoed) or the first line of piped stdin. */
async function readPassword(input: NodeJS.ReadStream = process.stdin): Promise<string> {
  const ask = (prompt: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const rl = createInterface({ input, output: input.isTTY ? process.stderr : undefined, terminal: input.isTTY });
      if (input.isTTY) {
        process.stderr.write(prompt);
        // Mute the echo of what is typed.
        (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
      }
      let got: string | undefined;
      rl.once('line', (line) => {
        got = line;
        rl.close();
      });
      rl.once('close', () => {
        if (input.isTTY) process.stderr.write('\n');
        if (got === undefined) reject(new SecurityCommandError('no password given on stdin'));
        else resolve(got);
      });
    });
  const first = await ask('password: ');
  if (input.isTTY && (await ask('again: ')) !== first) throw new SecurityCommandError('the passwords differ');
  return first;
}

export async function userCommand(
  settings: Settings,
  args: string[],
  opts: { permission?: string },
): Promise<string[]> {
  const store = new SecurityStore(settings.dataDir);
  const [verb, name] = args;
  const needName = (): string => {
    if (!name) throw new SecurityCommandError(`user ${verb} needs a user name`);
    return name;
  };
  try {
    switch (verb) {
      case 'add':
      case 'passwd': {
        const username = needName();
        checkUsername(username);
        const existing = store.user(username);
        if (verb === 'add' && existing)
          throw new SecurityCommandError(
            `user ${username} exists; \`signalk-edge user passwd ${username}\` changes the password`,
          );
        if (verb === 'passwd' && !existing) throw new SecurityCommandError(`no user ${username}`);
        const permission = permissionOf(opts.permission, existing?.permission ?? 'readonly');
        const password = await readPassword();
        if (password.length < MIN_PASSWORD_LENGTH)
          throw new SecurityCommandError(`the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
        store.putUser({ username, permission, password: await hashPassword(password) });
        return [`${verb === 'add' ? 'added' : 'updated'} user ${username} (${permission}) in ${store.dir}/users.json`];
      }
      case 'remove': {
        const username = needName();
        if (!store.removeUser(username)) throw new SecurityCommandError(`no user ${username}`);
        return [`removed user ${username}; their tokens stop working`];
      }
      case 'list':
      case undefined: {
        const users = store.listUsers();
        return users.length === 0
          ? ['no users (add one: signalk-edge user add <name> --permission admin)']
          : users.map((u) => `${u.username}\t${u.permission}`);
      }
      default:
        throw new SecurityCommandError(`unknown user command ${JSON.stringify(verb)} (add, passwd, remove, list)`);
    }
  } catch (err) {
    if (err instanceof SecurityError) throw new SecurityCommandError(err.message);
    throw err;
  }
}

export async function accessCommand(
  settings: Settings,
  args: string[],
  opts: { permission?: string },
): Promise<string[]> {
  const store = new SecurityStore(settings.dataDir);
  const [verb, id] = args;
  const ttl = settings.security?.deviceTtlSeconds ?? DEFAULT_DEVICE_TTL_S;
  try {
    switch (verb) {
      case 'list':
      case undefined: {
        const pending = store.listRequests().filter((r) => r.state === 'PENDING');
        const devices = store.listDevices();
        return [
          pending.length === 0
            ? 'no pending access requests'
            : 'pending access requests (approve: signalk-edge access approve <request id> [--permission P]):',
          ...pending.map(
            (r) =>
              `  ${r.requestId}\t${r.clientId}\t${r.permission}\tfrom ${r.ip} at ${r.requestedAt}\t${JSON.stringify(r.description)}`,
          ),
          devices.length === 0
            ? 'no approved devices'
            : 'approved devices (revoke: signalk-edge access revoke <client id>):',
          ...devices.map(
            (d) => `  ${d.clientId}\t${d.permission}\tsince ${d.approvedAt}\t${JSON.stringify(d.description)}`,
          ),
        ];
      }
      case 'approve':
      case 'deny': {
        if (!id)
          throw new SecurityCommandError(`access ${verb} needs a request id or client id (signalk-edge access list)`);
        const tokens = new TokenService(store);
        const permission = opts.permission === undefined ? undefined : permissionOf(opts.permission, 'readonly');
        const done = await store.answerRequest(
          id,
          verb === 'approve',
          (device) => tokens.issueForDevice(device, ttl),
          permission,
        );
        return [
          verb === 'approve'
            ? `approved ${done.clientId} (${done.permission}); the device gets its token when it next polls`
            : `denied ${done.clientId}`,
        ];
      }
      case 'revoke': {
        if (!id) throw new SecurityCommandError('access revoke needs a client id (signalk-edge access list)');
        if (!store.removeDevice(id)) throw new SecurityCommandError(`no approved device ${JSON.stringify(id)}`);
        return [`revoked ${id}: its token stops working`];
      }
      default:
        throw new SecurityCommandError(`unknown access command ${JSON.stringify(verb)} (list, approve, deny, revoke)`);
    }
  } catch (err) {
    if (err instanceof SecurityError) throw new SecurityCommandError(err.message);
    throw err;
  }
}
