import { readFileSync } from 'node:fs'
import { arch, cpus, platform, release, totalmem, uptime } from 'node:os'
import type { HostInfo } from '../protocol/index.ts'

/** This machine's static description, as a host entry carries it. */
export function machineInfo(): HostInfo {
  return {
    platform: platform(),
    release: release().slice(0, 256),
    arch: arch(),
    cores: cpus().length,
    memTotalBytes: totalmem(),
    bootTime: Math.round(Date.now() - uptime() * 1000),
  }
}

const MACHINE_ID_FILES = ['/etc/machine-id', '/var/lib/dbus/machine-id']

/**
 * The machine's id (systemd's `/etc/machine-id`, or D-Bus's), which tells two machines that claim one host name
 * apart; null where there is none (then give one with `--machine-id`).
 */
export function readMachineId(): string | null {
  for (const file of MACHINE_ID_FILES) {
    try {
      const id = readFileSync(file, 'utf8').trim()
      if (/^[A-Za-z0-9]{8,128}$/.test(id)) return id
    } catch {
      // Not this file: try the next one
    }
  }
  return null
}
