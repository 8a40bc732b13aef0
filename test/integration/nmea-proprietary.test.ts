// The nmea-proprietary example plugin's own behaviour against the real HAL (test/integration/hal-serial.test.ts
// covers grants and revokes as such): a pty pair stands in for a Garmin receiver's cable. The
// refusal shown before the grant is cleared once the port opens; checksum-valid $PGRME become
// deltas; bad checksums, malformed $PGRME and other talkers' lines are counted in the status.

import test from 'ava';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { withChecksum } from '../../hal/codecs/nmea0183/sentence.js';
import { addGrant } from '../../runtime/capabilities/store.js';
import { EXAMPLES, http, pluginFolder, pluginStatus } from '../helpers/plugins.js';
import { startPtyPair } from '../helpers/pty.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const ID = '_signalk-edge_nmea-proprietary';
const HPE = 'navigation.gnss.estimatedHorizontalError';
const VPE = 'navigation.gnss.estimatedVerticalError';
const EPE = 'navigation.gnss.estimatedPositionError';

test('decodes checksum-valid $PGRME once granted and counts what it ignores', async (t) => {
  const dir = tempDir(t, 'ske-pgrme-');
  const device = join(dir, 'gps');
  const pty = await startPtyPair(device, join(dir, 'far'));
  t.teardown(() => pty.stop());
  const dataDir = join(dir, 'data');
  const { runtime, stop } = await startTestRuntime({
    pluginDirs: [await pluginFolder([{ from: EXAMPLES, name: 'nmea-proprietary' }])],
    dataDir,
  });
  t.teardown(stop);

  const put = await http(runtime, 'PUT', `/plugins/${ID}/config`, { configuration: { device } });
  t.is(put.status, 200, JSON.stringify(put.body));
  const refused = await waitFor(async () => {
    const s = await pluginStatus(runtime, ID);
    return s.state === 'running' && s.errorMessage?.startsWith(`cannot open ${device}: `) ? s : undefined;
  }, 'the plugin to report the refused open');
  t.regex(refused.errorMessage ?? '', /serial/);

  addGrant(dataDir, ID, `serial:${device}`);
  const opened = await waitFor(async () => {
    const s = await pluginStatus(runtime, ID);
    return s.statusMessage?.startsWith(`Reading $PGRME from ${device}`) ? s : undefined;
  }, 'the open after the grant');
  t.falsy(opened.errorMessage);
  t.like(opened.hal, [{ kind: 'serial', target: device }]);

  const far: FileHandle = await open(join(dir, 'far'), 'r+');
  t.teardown(() => far.close());
  const lines = [
    withChecksum('$PGRME,15.0,M,45.0,M,25.0,M'),
    '$PGRME,15.0,M,45.0,M,25.0,M*00', // wrong checksum
    withChecksum('$GPGGA,101500.00,5946.1995,N,02418.0026,E,1,08,1.0,12.3,M,18.0,M,,'), // not ours
    '!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24', // not ours either
    withChecksum('$PGRME,3.2,M,5.1,M,6.0,M'),
    withChecksum('$PGRME,x,M,5.1,M,6.0,M'), // a field that is not a number
  ];
  await far.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'));

  await waitFor(() => runtime.model.valueAt('vessels.self', HPE)?.value === 3.2, 'the second $PGRME in the model');
  t.is(runtime.model.valueAt('vessels.self', VPE)?.value, 5.1);
  t.is(runtime.model.valueAt('vessels.self', EPE)?.value, 6);
  t.is(runtime.model.valueAt('vessels.self', HPE)?.$source, ID);
  const status = await waitFor(async () => {
    const s = await pluginStatus(runtime, ID);
    return s.statusMessage?.includes('malformed') && !s.statusMessage.includes(' 0 malformed') ? s : undefined;
  }, 'the status with every count');
  t.is(
    status.statusMessage,
    `Reading $PGRME from ${device}: horizontal error 3.2 m; 2 decoded, 1 bad checksum, 1 malformed, 2 other lines ignored`,
  );
  t.is(status.deltas?.emitted, 2);
});
