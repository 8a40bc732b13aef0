// Worker side of the isolation benchmark (bench/isolation.ts): what a plugin would cost in a
// worker_thread. workerData.mode:
//   idle      nothing loaded; answers 'ready' and waits
//   plugin    loads derive-all with the real engine, then delivers batches of delta JSON it is sent
//             and answers with the deltas the plugin emitted
//   hostcall  times `count` synchronous host calls that must be answered by the main thread (as
//             sk_get_path reading the model would be): postMessage + Atomics.wait on a shared flag
//   spin      runs an infinite loop (the main thread measures how long terminate() takes)

import { parentPort, workerData } from 'node:worker_threads';
import { loadPluginBytes } from '../runtime/engine/index.js';
import { benchHost } from './engine.js';

interface Data {
  mode: 'idle' | 'plugin' | 'hostcall' | 'spin';
  wasm?: Uint8Array;
  vfsRoot?: string;
  flag?: SharedArrayBuffer;
  count?: number;
}

const data = workerData as Data;
const port = parentPort;
if (!port) throw new Error('isolation-worker.js runs as a worker thread');

async function main(): Promise<void> {
  if (data.mode === 'idle') {
    port!.on('message', () => undefined); // stays alive until terminated
    port!.postMessage('ready');
    return;
  }
  if (data.mode === 'spin') {
    port!.postMessage('ready');
    for (;;);
  }
  if (data.mode === 'hostcall') {
    const flag = new Int32Array(data.flag!);
    const n = data.count ?? 1000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      Atomics.store(flag, 0, 0);
      port!.postMessage(i);
      Atomics.wait(flag, 0, 0);
    }
    port!.postMessage({ us: ((performance.now() - t0) * 1000) / n });
    return;
  }
  const outbox: string[] = [];
  const plugin = await loadPluginBytes({
    id: 'worker-plugin',
    bytes: data.wasm!,
    vfsRoot: data.vfsRoot!,
    host: benchHost('worker-plugin', (json) => outbox.push(json)),
  });
  plugin.start('{}');
  port!.on('message', (batch: string[]) => {
    for (const json of batch) plugin.deliverDelta(json);
    port!.postMessage(outbox.splice(0));
  });
  port!.postMessage('ready');
}

void main();
