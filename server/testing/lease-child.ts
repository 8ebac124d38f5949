/**
 * A process that seeks the singleton lease and prints `held` or `lost` with the time on each change, for the
 * lease's cluster tests: `node --import tsx lease-child.ts <database url> <check ms>`.
 */
import { Lease } from '../cluster/index.ts'

const lease = new Lease({
  url: process.argv[2] as string,
  checkMs: Number(process.argv[3] ?? 500),
  onChange: (held) => process.stdout.write(`${held ? 'held' : 'lost'} ${Date.now()}\n`),
})
lease.start()
process.once('SIGTERM', () => {
  lease.close().then(() => process.exit(0))
})
