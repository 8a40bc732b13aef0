// The security parts on their own: settings parsing, host and origin policy, ACL matching and
// pruning, password hashes.

import test from 'ava';
import { Reader, SettingsError } from '../../core/settings-reader.js';
import { AclCheck, pruneTree } from '../../runtime/security/acl.js';
import { OriginPolicy } from '../../runtime/security/origins.js';
import { hashPassword, verifyPassword } from '../../runtime/security/passwords.js';
import { parseSecuritySettings, SECURITY_OFF } from '../../runtime/security/settings.js';

const parse = (v: unknown) => parseSecuritySettings(new Reader('settings.json'), v);

test('security settings: defaults when present, and errors naming the key', (t) => {
  t.like(parse({}), {
    enabled: true,
    allowReadOnly: false,
    allowedOrigins: [],
    hostnames: [],
    loginTtlSeconds: 86400,
    acls: [],
  });
  const bad: [unknown, RegExp][] = [
    [{ allowedOrigins: ['http://plotter.local/app'] }, /security\.allowedOrigins\[0\]: must be an origin like/],
    [{ allowedOrigins: ['plotter.local'] }, /security\.allowedOrigins\[0\]/],
    [{ hostnames: ['boat.local:3000'] }, /security\.hostnames\[0\]: must be a host name without port/],
    [{ allowReadonly: true }, /security\.allowReadonly: unknown key/],
    [{ loginTtlSeconds: 5 }, /security\.loginTtlSeconds: must be an integer from 60/],
    [
      {
        acls: [
          {
            context: 'vessels.self',
            resources: [{ paths: ['a.*'], permissions: [{ subject: 'any', permission: 'admin' }] }],
          },
        ],
      },
      /security\.acls\[0\]\.resources\[0\]\.permissions\[0\]\.permission: must be one of read, write, put/,
    ],
  ];
  for (const [input, message] of bad) {
    const err = t.throws(() => parse(input), { instanceOf: SettingsError });
    t.regex(err!.message, message);
  }
});

test('host and origin policy', (t) => {
  const policy = new OriginPolicy(
    { ...SECURITY_OFF, hostnames: ['myboat.lan'], allowedOrigins: ['http://plotter.local:8080'] },
    '0.0.0.0',
  );
  for (const ok of [undefined, '10.0.0.5:3000', '[fe80::1]:3000', 'localhost', 'app.localhost:3000', 'MYBOAT.LAN:80'])
    t.is(policy.checkHost(ok), undefined, String(ok));
  for (const bad of ['evil.example', 'myboat.lan.evil.example', '10.0.0.5:3000:1', '[zz]:1', ''])
    t.truthy(policy.checkHost(bad), bad);
  t.is(policy.checkOrigin(undefined, 'x'), undefined, 'no Origin: not a browser');
  t.is(policy.checkOrigin('http://10.0.0.5:3000', '10.0.0.5:3000'), undefined, 'same origin');
  t.is(policy.checkOrigin('http://plotter.local:8080', '10.0.0.5:3000'), undefined);
  t.truthy(policy.checkOrigin('https://10.0.0.5:3000', '10.0.0.6:3000'));
  t.truthy(policy.checkOrigin('null', '10.0.0.5:3000'));
  t.true(policy.allowedCrossOrigin('http://plotter.local:8080'));
  t.false(policy.allowedCrossOrigin('http://10.0.0.5:3000'));
});

test('ACLs: first matching context and path decide; read from read or write; PUT needs put; no match is denied', (t) => {
  const self = 'vessels.urn:mrn:imo:mmsi:230000001';
  const acl = new AclCheck(
    [
      {
        context: 'vessels.self',
        resources: [
          { paths: ['navigation.*'], permissions: [{ subject: 'any', permission: 'read' }] },
          {
            paths: ['electrical.*'],
            permissions: [
              { subject: 'crew', permission: 'write' },
              { subject: 'crew', permission: 'put' },
            ],
          },
        ],
      },
      { context: 'vessels.*', resources: [{ paths: ['*'], permissions: [{ subject: 'any', permission: 'read' }] }] },
    ],
    self,
  );
  t.true(acl.allows('guest', self, 'navigation.position', 'read'));
  t.false(acl.allows('guest', self, 'navigation.position', 'put'));
  t.false(acl.allows('guest', self, 'electrical.batteries.0.voltage', 'read'));
  t.true(acl.allows('crew', self, 'electrical.batteries.0.voltage', 'read'));
  t.true(acl.allows('crew', self, 'electrical.switches.anchorLight.state', 'put'));
  t.false(acl.allows('crew', self, 'environment.depth', 'read'), 'the self ACL matched first; no path in it');
  t.true(
    acl.allows('guest', 'vessels.urn:mrn:imo:mmsi:987654321', 'navigation.position', 'read'),
    'AIS targets by the second ACL',
  );
  t.false(acl.allows('guest', 'atons.x', 'navigation.position', 'read'));
  t.true(new AclCheck([], self).allows('anyone', self, 'x', 'put'), 'no ACLs: no path restriction');

  const tree = {
    version: '1.7.0',
    self,
    vessels: {
      'urn:mrn:imo:mmsi:230000001': {
        name: 'Boat',
        navigation: { speedOverGround: { value: 3 } },
        electrical: { s: { value: 1 } },
      },
    },
    sources: { gps: {} },
  };
  const canRead = (c: string, p: string) => acl.allows('guest', c, p, 'read');
  const resolve = (c: string) => (c === 'vessels.self' ? self : c);
  t.deepEqual(pruneTree(tree, [], canRead, resolve), {
    version: '1.7.0',
    self,
    vessels: { 'urn:mrn:imo:mmsi:230000001': { navigation: { speedOverGround: { value: 3 } } } },
    sources: { gps: {} },
  });
  t.deepEqual(
    pruneTree(
      tree.vessels['urn:mrn:imo:mmsi:230000001'].electrical,
      ['vessels', 'self', 'electrical'],
      canRead,
      resolve,
    ),
    undefined,
  );
});

test('password hashes: scrypt, salted, verified in constant time; malformed hashes never match', async (t) => {
  const a = await hashPassword('correct horse');
  const b = await hashPassword('correct horse');
  t.regex(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  t.not(a, b, 'salted');
  t.true(await verifyPassword('correct horse', a));
  t.false(await verifyPassword('correct horsf', a));
  t.false(await verifyPassword('x', undefined));
  t.false(await verifyPassword('x', 'scrypt$1099511627776$8$1$AA==$AA=='), 'absurd cost refused, not computed');
  t.false(await verifyPassword('x', 'md5$abc'));
});
