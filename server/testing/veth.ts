/**
 * A veth pair into a network namespace of its own (iproute2, as root), so a test can put a known stream of bytes
 * through an interface the sampler reads: loopback is left out of its figures, and the machine's own interfaces
 * carry whatever else the machine does. Named `vg<n>a` (not `veth…`, which the sampler skips too).
 */
import { execFileSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { findBinary } from './services.ts'

export interface Veth {
  /** The host side's name, as `/proc/net/dev` lists it. */
  readonly name: string
  /** Sends `bytesPerS` of UDP to the far end in 10 ms steps until the returned function is called. */
  send(bytesPerS: number): () => void
  remove(): void
}

export function addVeth(): Veth {
  const ip = findBinary('ip', 'iproute2')
  if (process.getuid?.() !== 0) throw new Error('a veth pair needs root (ip netns add): run the cluster tests as root')
  const n = process.pid % 250
  const ns = `vigil-test-${process.pid}`
  const name = `vg${process.pid}a`
  const run = (...args: string[]) => execFileSync(ip, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const near = `10.213.${n}.1`
  const far = `10.213.${n}.2`
  run('netns', 'add', ns)
  try {
    run('link', 'add', name, 'type', 'veth', 'peer', 'name', `vg${process.pid}b`, 'netns', ns)
    run('addr', 'add', `${near}/30`, 'dev', name)
    run('link', 'set', name, 'up')
    run('-n', ns, 'addr', 'add', `${far}/30`, 'dev', `vg${process.pid}b`)
    run('-n', ns, 'link', 'set', `vg${process.pid}b`, 'up')
  } catch (err) {
    run('netns', 'del', ns)
    throw err
  }
  return {
    name,
    send(bytesPerS) {
      const socket = createSocket('udp4')
      const payload = Buffer.alloc(1000)
      const perStep = Math.max(1, Math.round(bytesPerS / 100 / payload.length))
      const start = performance.now()
      let sent = 0
      // Catches up on steps a busy event loop missed, so the rate holds over any second
      const timer = setInterval(() => {
        const due = Math.floor(((performance.now() - start) / 10) * perStep)
        for (; sent < due; sent++) socket.send(payload, 9, far)
      }, 10)
      return () => {
        clearInterval(timer)
        socket.close()
      }
    },
    remove() {
      // Deleting the namespace deletes the pair with it
      run('netns', 'del', ns)
    },
  }
}
