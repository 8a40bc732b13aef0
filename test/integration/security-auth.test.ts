// Signal K security: login, tokens (cookie and header), revocation, device access requests approved
// with the CLI, permission levels against every state-changing route and the stream, path ACLs.

import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import type { SecuritySettings } from '../../runtime/security/settings.js';
import { SecurityStore } from '../../runtime/security/store.js';
import { TokenService } from '../../runtime/security/tokens.js';
import { EXAMPLES, IDS, pluginFolder, publish } from '../helpers/plugins.js';
import type { TestRuntime } from '../helpers/runtime.js';
import { call, login, securityOn, startSecuredRuntime, upgrade } from '../helpers/security.js';
import { signalkClient } from '../helpers/signalk-client.js';
import { waitFor } from '../helpers/wait.js';

const ANCHOR = '/signalk/v1/api/vessels/self/electrical/switches/anchorLight/state';
const PLUGIN = `/plugins/${IDS.anchorLight}`;
const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');

/** The anchor-light example with a guest, a crew member and a skipper; security on unless `security` says how. */
async function secured(t: ExecutionContext, security?: SecuritySettings): Promise<TestRuntime> {
  const rt = await startSecuredRuntime(
    t,
    { guest: 'readonly', crew: 'readwrite', skipper: 'admin' },
    { security, pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'anchor-light' }])] },
  );
  await waitFor(
    () => rt.runtime.model.valueAt('vessels.self', 'electrical.switches.anchorLight.state'),
    'anchor light ready',
  );
  return rt;
}

async function cli(dataDir: string, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--data', dataDir]);
  return stdout;
}

test('login: a token in the body and an httpOnly cookie; wrong passwords are refused and throttled', async (t) => {
  const rt = await secured(t);
  const bad = await call(rt.url, 'POST', '/signalk/v1/auth/login', { body: { username: 'crew', password: 'nope' } });
  t.is(bad.status, 401);
  t.is(
    (await call(rt.url, 'POST', '/signalk/v1/auth/login', { body: { username: 'nobody', password: 'x' } })).status,
    401,
  );
  t.is(
    (
      await call(rt.url, 'POST', '/signalk/v1/auth/login', {
        body: 'username=crew',
        contentType: 'application/x-www-form-urlencoded',
      })
    ).status,
    415,
  );

  const ok = await call(rt.url, 'POST', '/signalk/v1/auth/login', {
    body: { username: 'crew', password: 'crew-secret-pw' },
  });
  t.is(ok.status, 200);
  const { token, timeToLive } = ok.body as { token: string; timeToLive: number };
  t.regex(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  t.is(timeToLive, 86400);
  const cookie = String(ok.headers['set-cookie']);
  t.regex(cookie, /JAUTHENTICATION=[\w.-]+; Path=\/; HttpOnly; SameSite=Strict/);

  // Cookie (browsers) and both header forms clients use.
  const viaCookie = await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', {
    headers: { cookie: cookie.split(';')[0] },
  });
  t.is(viaCookie.status, 200);
  t.is(
    (await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { headers: { authorization: `JWT ${token}` } })).status,
    200,
  );
  const status = await call(rt.url, 'GET', '/skServer/loginStatus', { token });
  t.like(status.body, { status: 'loggedIn', username: 'crew', userLevel: 'readwrite', readOnlyAccess: false });

  // Password guessing: after 10 failures in a minute, even the right password waits.
  for (let i = 0; i < 10; i++)
    await call(rt.url, 'POST', '/signalk/v1/auth/login', { body: { username: 'crew', password: `guess${i}` } });
  const throttled = await call(rt.url, 'POST', '/signalk/v1/auth/login', {
    body: { username: 'crew', password: 'crew-secret-pw' },
  });
  t.is(throttled.status, 429);
});

test('permission levels against every state-changing route and the stream', async (t) => {
  const rt = await secured(t);
  const tokens: Record<string, string | undefined> = {
    anonymous: undefined,
    guest: await login(rt.url, 'guest'),
    crew: await login(rt.url, 'crew'),
    skipper: await login(rt.url, 'skipper'),
  };
  // Expected status per client: anonymous, readonly, readwrite, admin.
  const routes: [string, string, unknown, number[]][] = [
    ['GET', '/signalk/v1/api/vessels/self', undefined, [401, 200, 200, 200]],
    ['GET', '/edge/v1/status', undefined, [401, 200, 200, 200]],
    ['PUT', ANCHOR, { value: 1 }, [401, 403, 200, 200]],
    ['GET', '/plugins', undefined, [401, 200, 200, 200]],
    ['GET', `${PLUGIN}/config`, undefined, [401, 403, 403, 200]],
    ['PUT', `${PLUGIN}/config`, { configuration: {} }, [401, 403, 403, 200]],
    ['POST', `${PLUGIN}/config`, { enabled: true }, [401, 403, 403, 200]],
    ['POST', `${PLUGIN}/disable`, undefined, [401, 403, 403, 200]],
    ['POST', `${PLUGIN}/enable`, undefined, [401, 403, 403, 200]],
    ['POST', `${PLUGIN}/restart`, undefined, [401, 403, 403, 200]],
    ['POST', `/skServer/plugins/${IDS.anchorLight}/restart`, undefined, [401, 403, 403, 200]],
  ];
  const who = Object.keys(tokens);
  for (const [method, path, body, expected] of routes) {
    for (let i = 0; i < who.length; i++) {
      const r = await call(rt.url, method, path, { body, token: tokens[who[i]] });
      t.is(r.status, expected[i], `${who[i]} ${method} ${path}: ${JSON.stringify(r.body).slice(0, 200)}`);
    }
  }
  const denied = await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token: tokens.guest });
  t.regex(String((denied.body as { error: string }).error), /user guest has readonly permission; this needs readwrite/);

  // The stream: a token in the query (or header or cookie); none = 401.
  t.is((await upgrade(rt.wsUrl, 'subscribe=self')).status, 401);
  for (const name of ['guest', 'crew', 'skipper']) {
    const s = await upgrade(rt.wsUrl, `subscribe=self&token=${tokens[name]}`);
    t.is(s.status, 101, name);
    s.ws?.close();
  }
  const viaHeader = await upgrade(rt.wsUrl, 'subscribe=self', { authorization: `Bearer ${tokens.guest}` });
  t.is(viaHeader.status, 101);
  viaHeader.ws?.close();
  // Discovery and login stay public.
  t.is((await call(rt.url, 'GET', '/signalk')).status, 200);
});

test('allowReadOnly: anonymous clients read and stream, but change nothing', async (t) => {
  const rt = await secured(t, securityOn({ allowReadOnly: true }));
  t.is((await call(rt.url, 'GET', '/signalk/v1/api/vessels/self')).status, 200);
  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 } })).status, 401);
  t.is((await call(rt.url, 'POST', `${PLUGIN}/disable`)).status, 401);
  const s = await upgrade(rt.wsUrl, 'subscribe=self');
  t.is(s.status, 101);
  await waitFor(() => s.messages.length >= 1, 'hello');
  s.ws?.close();
  t.like((await call(rt.url, 'GET', '/skServer/loginStatus')).body, { status: 'notLoggedIn', readOnlyAccess: true });
});

test('revocation: logout, a removed user, an expired or tampered token', async (t) => {
  const rt = await secured(t);
  const token = await login(rt.url, 'crew');
  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token })).status, 200);
  const out = await call(rt.url, 'PUT', '/signalk/v1/auth/logout', { token });
  t.is(out.status, 200);
  t.regex(String(out.headers['set-cookie']), /JAUTHENTICATION=;/);
  const after = await call(rt.url, 'PUT', ANCHOR, { body: { value: 0 }, token });
  t.is(after.status, 401);
  t.regex(String((after.body as { error: string }).error), /token revoked/);

  // A user removed with the CLI: their token stops working in the running service.
  const skipper = await login(rt.url, 'skipper');
  t.is((await call(rt.url, 'GET', `${PLUGIN}/config`, { token: skipper })).status, 200);
  t.regex(await cli(rt.dataDir, 'user', 'remove', 'skipper'), /removed user skipper/);
  await waitFor(
    async () => (await call(rt.url, 'GET', `${PLUGIN}/config`, { token: skipper })).status === 401,
    'the removed user refused',
  );

  const store = new SecurityStore(rt.dataDir);
  const expired = (await new TokenService(store).issueForUser('crew', -10)).token;
  const e = await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { token: expired });
  t.is(e.status, 401);
  t.regex(String((e.body as { error: string }).error), /expired/);
  const crew = await login(rt.url, 'crew');
  const [h, p] = crew.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'user:skipper', jti: 'x', exp: 9999999999 })).toString('base64url')}.${crew.split('.')[2]}`;
  t.is((await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { token: forged })).status, 401);
  t.is((await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { token: `${h}.${p}.` })).status, 401, 'unsigned');
});

test('device access request: pending, approved with the CLI, token handed out once, revoked with the CLI', async (t) => {
  const rt = await secured(t);
  const asked = await call(rt.url, 'POST', '/signalk/v1/access/requests', {
    body: { clientId: 'tablet-1', description: 'Cockpit tablet', permissions: 'readwrite' },
  });
  t.is(asked.status, 202);
  const { requestId, href } = asked.body as { requestId: string; href: string };
  t.is(href, `/signalk/v1/requests/${requestId}`);
  t.like((await call(rt.url, 'GET', href)).body, { state: 'PENDING', statusCode: 202 });
  // Asking again while pending gives the same request.
  t.like(
    (
      await call(rt.url, 'POST', '/signalk/v1/access/requests', {
        body: { clientId: 'tablet-1', description: 'again' },
      })
    ).body,
    { requestId },
  );
  t.is(
    (
      await call(rt.url, 'POST', '/signalk/v1/access/requests', {
        body: { clientId: 'x', description: 'y', permissions: 'root' },
      })
    ).status,
    400,
  );

  t.regex(await cli(rt.dataDir, 'access', 'list'), new RegExp(`${requestId}\\ttablet-1\\treadwrite`));
  t.regex(await cli(rt.dataDir, 'access', 'approve', requestId), /approved tablet-1 \(readwrite\)/);
  const done = await call(rt.url, 'GET', href);
  t.like(done.body, { state: 'COMPLETED', statusCode: 200, accessRequest: { permission: 'APPROVED' } });
  const token = (done.body as { accessRequest: { token: string } }).accessRequest.token;
  t.truthy(token);
  t.is(
    (await call(rt.url, 'GET', href)).body &&
      ((await call(rt.url, 'GET', href)).body as { accessRequest: { token?: string } }).accessRequest.token,
    undefined,
    'handed out once',
  );
  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token })).status, 200);
  t.is((await call(rt.url, 'POST', `${PLUGIN}/restart`, { token })).status, 403);

  t.regex(await cli(rt.dataDir, 'access', 'revoke', 'tablet-1'), /revoked tablet-1/);
  await waitFor(
    async () => (await call(rt.url, 'PUT', ANCHOR, { body: { value: 0 }, token })).status === 401,
    'the revoked device refused',
  );

  // Denied: the device learns it, gets no token.
  const other = (
    await call(rt.url, 'POST', '/signalk/v1/access/requests', {
      body: { clientId: 'phone', description: 'Unknown phone' },
    })
  ).body as { href: string };
  await cli(rt.dataDir, 'access', 'deny', 'phone');
  t.like((await call(rt.url, 'GET', other.href)).body, { state: 'COMPLETED', accessRequest: { permission: 'DENIED' } });
});

test('path ACLs: reads are filtered on REST and on the stream; a PUT needs put on its path', async (t) => {
  const rt = await secured(
    t,
    securityOn({
      acls: [
        {
          context: 'vessels.self',
          resources: [
            { paths: ['navigation.*'], permissions: [{ subject: 'any', permission: 'read' }] },
            {
              paths: ['electrical.switches.*'],
              permissions: [
                { subject: 'crew', permission: 'put' },
                { subject: 'crew', permission: 'read' },
              ],
            },
          ],
        },
      ],
    }),
  );
  publish(rt.runtime, [
    { path: 'navigation.speedOverGround', value: 3 },
    { path: 'environment.depth.belowKeel', value: 7 },
  ]);
  const guest = await login(rt.url, 'guest');
  const crew = await login(rt.url, 'crew');
  const skipper = await login(rt.url, 'skipper');

  const seen = (await call(rt.url, 'GET', '/signalk/v1/api/vessels/self', { token: guest })).body as Record<
    string,
    unknown
  >;
  t.deepEqual(Object.keys(seen).sort(), ['navigation']);
  t.is(
    (await call(rt.url, 'GET', '/signalk/v1/api/vessels/self/environment/depth/belowKeel', { token: guest })).status,
    404,
  );
  const full = (await call(rt.url, 'GET', '/signalk/v1/api/', { token: crew })).body as {
    vessels: Record<string, Record<string, unknown>>;
  };
  t.deepEqual(Object.keys(Object.values(full.vessels)[0]).sort(), ['electrical', 'navigation']);

  t.is((await call(rt.url, 'PUT', ANCHOR, { body: { value: 1 }, token: crew })).status, 200);
  const adminPut = await call(rt.url, 'PUT', ANCHOR, { body: { value: 0 }, token: skipper });
  t.is(adminPut.status, 403, 'the ACL decides for admins too, as upstream');
  t.regex(
    String((adminPut.body as { error: string }).error),
    /no PUT permission for electrical\.switches\.anchorLight\.state/,
  );

  // The stream: cached values and live deltas, only the readable paths.
  const s = await upgrade(rt.wsUrl, `subscribe=self&token=${guest}`);
  t.is(s.status, 101);
  publish(rt.runtime, [
    { path: 'environment.depth.belowKeel', value: 8 },
    { path: 'navigation.speedOverGround', value: 4 },
  ]);
  const paths = () =>
    s.messages.flatMap((m) =>
      ((m as { updates?: { values?: { path: string; value: unknown }[] }[] }).updates ?? []).flatMap(
        (u) => u.values ?? [],
      ),
    );
  await waitFor(
    () => paths().some((v) => v.path === 'navigation.speedOverGround' && v.value === 4),
    'the live navigation value',
  );
  t.deepEqual([...new Set(paths().map((v) => v.path))], ['navigation.speedOverGround']);
  s.ws?.close();
});

test('@signalk/client logs in with a user and its REST calls carry the token', async (t) => {
  // Node clients cannot send the login cookie on the WebSocket; read access for the stream is the setting.
  const rt = await secured(t, securityOn({ allowReadOnly: true }));
  const port = Number(new URL(rt.url).port);
  const client = signalkClient(port, {
    useAuthentication: true,
    username: 'crew',
    password: 'crew-secret-pw',
    deltaStreamBehaviour: 'self',
  });
  t.teardown(() => client.disconnect());
  await client.connect();
  t.regex(client.connection._token.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  const put = await client.connection.fetch('/vessels/self/electrical/switches/anchorLight/state', {
    method: 'PUT',
    body: JSON.stringify({ value: 1 }),
  });
  t.like(put, { state: 'COMPLETED', statusCode: 200 });
  await waitFor(
    () => rt.runtime.model.valueAt('vessels.self', 'electrical.switches.anchorLight.state')?.value === 1,
    'light on',
  );

  // A wrong password: the client reports the refused login.
  const wrong = signalkClient(port, {
    useAuthentication: true,
    username: 'crew',
    password: 'bad',
    maxRetries: 1,
  });
  const errors: unknown[] = [];
  wrong.on('error', (e) => errors.push(e));
  void wrong.connect().catch((e: unknown) => errors.push(e));
  await waitFor(() => errors.length > 0, 'the login error');
  t.regex(String(errors[0]), /401/);
  wrong.disconnect();
});
