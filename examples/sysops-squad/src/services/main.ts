/**
 * One Sysops Squad service as its own OS process: `node main.js <service>`, configured by the
 * environment variables listed in `start-service.ts`. Prints `ready` on stdout once it serves;
 * runs until SIGTERM (a clean stop) or SIGKILL, or until the demo that started it is gone.
 */
import { describeError } from '@converge/core';
import { exitWithParent } from './exit-with-parent.js';
import { SERVICES, type ServiceName, startService, stopService } from './start-service.js';

exitWithParent();
const service = process.argv[2] as ServiceName;
if (!SERVICES.includes(service)) {
  process.stderr.write(`sysops-squad: name a service: ${SERVICES.join(', ')}\n`);
  process.exit(2);
}
startService(service).then(
  (running) => {
    process.stdout.write('ready\n');
    process.once('SIGTERM', async () => {
      await stopService(running);
      process.exit(0);
    });
  },
  (error: unknown) => {
    process.stderr.write(`${service} failed to start: ${JSON.stringify(describeError(error))}\n`);
    process.exit(1);
  },
);
