// A target that misbehaves on purpose, one way per input number, so test/integration/fuzz-smoke.test.ts can
// check the harness catches each kind: a property finding, an escaped exception, an unhandled
// rejection, an error-level log line, a Node warning, a slow input, an uncaught exception and a hang.

import { createLogger } from '../../../core/log.js';
import { Finding, type FuzzTarget, type TargetModule } from '../harness.js';

const log = createLogger('self-check');

export const target: TargetModule = {
  name: 'self-check',
  covers: 'the fuzz harness itself',
  async create(): Promise<FuzzTarget> {
    let n = 0;
    return {
      generate: () => Uint8Array.of(n++),
      run(input) {
        switch (input[0]) {
          case 1:
            throw new Finding('property', 'a property the input violates');
          case 2:
            throw new TypeError('an exception the code under test let escape');
          case 3:
            void Promise.reject(new Error('a rejection nobody handles'));
            break;
          case 4:
            log.error('something failed that should not have');
            break;
          case 5:
            process.emitWarning('a warning', 'SelfCheckWarning');
            break;
          case 6: {
            const until = Date.now() + 300;
            while (Date.now() < until);
            break;
          }
          case 7:
            process.nextTick(() => {
              throw new Error('thrown outside any call the harness makes');
            });
            break;
          case 8:
            for (;;);
        }
        return ['ok'];
      },
      async close() {},
    };
  },
};
