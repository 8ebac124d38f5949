import { describe, expect, it } from 'vitest'
import { parseDiskstats, parseMeminfo, parseMounts, parseNetDev, parseProcStat } from './linux.ts'
import type { FastReading } from './probe.ts'
import { cpuPct, fastValues, mountSegment, ratePerS, segment, slowValues } from './rates.ts'

function reading(over: Partial<FastReading> = {}): FastReading {
  return {
    mono: 0,
    cpuUnitS: 0.01,
    cpu: { busy: 0, total: 0 },
    cores: [],
    mem: { usedBytes: 10, availableBytes: 90, totalBytes: 100, swapUsedBytes: 0 },
    load: [1, 2, 3],
    net: new Map(),
    disk: null,
    ...over,
  }
}

describe('rate maths', () => {
  it('computes busy percent from two CPU counter readings', () => {
    expect(cpuPct({ busy: 100, total: 1000 }, { busy: 350, total: 2000 })).toBe(25)
  })

  it('gives no CPU percent when no time passed or a counter went back', () => {
    expect(cpuPct({ busy: 5, total: 10 }, { busy: 5, total: 10 })).toBeNull()
    expect(cpuPct({ busy: 50, total: 100 }, { busy: 40, total: 200 })).toBeNull()
  })

  it('computes a per-second rate from counter deltas and refuses first readings and resets', () => {
    expect(ratePerS(1000, 3000, 500)).toBe(4000)
    expect(ratePerS(undefined, 3000, 500)).toBeNull()
    expect(ratePerS(5000, 10, 1000)).toBeNull()
    expect(ratePerS(1, 2, 0)).toBeNull()
  })

  it('emits gauges and counters but no rates on the first tick (faked readings)', () => {
    const v = fastValues(
      null,
      reading({
        cpu: { busy: 1234, total: 5000 },
        net: new Map([['eth0', { rxBytes: 5, txBytes: 7 }]]),
        disk: { readBytes: 4096, writeBytes: 8192, readOps: 3, writeOps: 9 },
      }),
    )
    expect(v).toEqual({
      'cpu.busy_seconds_total': 12.34,
      'cpu.idle_seconds_total': 37.66,
      'net.eth0.rx_bytes_total': 5,
      'net.eth0.tx_bytes_total': 7,
      'disk.read_bytes_total': 4096,
      'disk.write_bytes_total': 8192,
      'disk.read_ops_total': 3,
      'disk.write_ops_total': 9,
      'mem.used_bytes': 10,
      'mem.available_bytes': 90,
      'mem.total_bytes': 100,
      'mem.swap_used_bytes': 0,
      'load.1m': 1,
      'load.5m': 2,
      'load.15m': 3,
    })
  })

  it('emits CPU, network and disk rates from the second tick on (faked readings)', () => {
    const a = reading({
      mono: 1000,
      cpu: { busy: 100, total: 400 },
      cores: [
        { busy: 50, total: 200 },
        { busy: 50, total: 200 },
      ],
      net: new Map([['br-1A', { rxBytes: 1000, txBytes: 0 }]]),
      disk: { readBytes: 0, writeBytes: 4096, readOps: 0, writeOps: 1 },
    })
    const b = reading({
      mono: 3000,
      cpu: { busy: 200, total: 600 },
      cores: [
        { busy: 150, total: 300 },
        { busy: 50, total: 300 },
      ],
      net: new Map([
        ['br-1A', { rxBytes: 5000, txBytes: 2000 }],
        ['wlan0', { rxBytes: 1, txBytes: 1 }],
      ]),
      disk: { readBytes: 8192, writeBytes: 4096, readOps: 4, writeOps: 1 },
    })
    const v = fastValues(a, b)
    expect(v['cpu.usage_pct']).toBe(50)
    expect(v['cpu.core.0.usage_pct']).toBe(100)
    expect(v['cpu.core.1.usage_pct']).toBe(0)
    expect(v['net.br_1a.rx_bytes_per_s']).toBe(2000)
    expect(v['net.br_1a.tx_bytes_per_s']).toBe(1000)
    expect(v['net.wlan0.rx_bytes_per_s']).toBeUndefined()
    expect(v['disk.read_bytes_per_s']).toBe(4096)
    expect(v['disk.read_ops_per_s']).toBe(2)
    expect(v['disk.write_bytes_per_s']).toBe(0)
  })

  it('names filesystem and interface segments by the metric naming rule', () => {
    expect(mountSegment('/')).toBe('root')
    expect(mountSegment('/var/lib/docker')).toBe('var_lib_docker')
    expect(segment('Wi-Fi 2')).toBe('wi_fi_2')
    expect(
      slowValues({
        fs: [{ mount: '/', sizeBytes: 250, usedBytes: 50, availableBytes: 150 }],
        temps: null,
        processes: { count: 3, topCpu: [], topMem: [] },
      }),
    ).toEqual({
      'fs.root.used_bytes': 50,
      'fs.root.size_bytes': 250,
      'fs.root.used_pct': 25,
      'proc.count': 3,
    })
  })

  it('rounds percentages to 2 decimals and temperatures to 1, the precision the store keeps compact', () => {
    const v = slowValues({
      fs: [{ mount: '/', sizeBytes: 300, usedBytes: 100, availableBytes: 200 }],
      temps: { cpu: 47.123, cores: [51.96] },
      processes: { count: 3, topCpu: [], topMem: [] },
    })
    expect([v['fs.root.used_pct'], v['temp.cpu_celsius'], v['temp.core.0_celsius']]).toEqual([33.33, 47.1, 52])
  })
})

describe('/proc parsing', () => {
  it('reads busy and total jiffies per CPU from /proc/stat, iowait as idle', () => {
    const text = 'cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 4 0 2 40 4 0 0 0 0 0\ncpu1 6 0 3 40 1 0 0 0 0 0\nintr 1 2 3\n'
    expect(parseProcStat(text)).toEqual({
      cpu: { busy: 15, total: 100 },
      cores: [
        { busy: 6, total: 50 },
        { busy: 9, total: 50 },
      ],
    })
  })

  it('reads memory from /proc/meminfo as total minus available', () => {
    const text = 'MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nSwapTotal: 50 kB\nSwapFree: 20 kB\n'
    expect(parseMeminfo(text)).toEqual({
      totalBytes: 1024000,
      availableBytes: 614400,
      usedBytes: 409600,
      swapUsedBytes: 30720,
    })
  })

  it('reads byte counters per interface from /proc/net/dev, leaving out loopback and veth', () => {
    const text =
      'Inter-|   Receive\n face |bytes packets\n    lo: 9 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0\n  eth0: 100 2 0 0 0 0 0 0 200 3 0 0 0 0 0 0\nveth1a: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n'
    expect([...parseNetDev(text)]).toEqual([['eth0', { rxBytes: 100, txBytes: 200 }]])
  })

  it('lists one mount per device from /proc/mounts, decoding escapes and leaving out pseudo filesystems', () => {
    const text = [
      'proc /proc proc rw 0 0',
      '/dev/vda / ext4 rw 0 0',
      'tmpfs /dev/shm tmpfs rw 0 0',
      '/dev/vda /etc/hosts ext4 rw 0 0',
      '/dev/sdb1 /mnt/my\\040disk xfs rw 0 0',
      'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
    ].join('\n')
    expect(parseMounts(text)).toEqual([
      { device: '/dev/vda', mount: '/' },
      { device: '/dev/sdb1', mount: '/mnt/my disk' },
    ])
  })

  it('sums /proc/diskstats over whole disks only', () => {
    const text =
      ' 8 0 sda 10 0 100 0 20 0 200 0 0 0 0\n 8 1 sda1 10 0 100 0 20 0 200 0 0 0 0\n 7 0 loop0 1 0 8 0 0 0 0 0 0 0 0\n'
    expect(parseDiskstats(text, new Set(['sda']))).toEqual({
      readOps: 10,
      readBytes: 51200,
      writeOps: 20,
      writeBytes: 102400,
    })
  })
})
