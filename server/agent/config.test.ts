import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config.ts'
import { loadAgentConfig } from './config.ts'

const env = { VIGIL_TOKEN: 'vgl_x' }

describe('vigil agent settings', () => {
  it('takes one hub or a comma list of a cluster’s hubs, each dialled at its /api/agent endpoint, in the order given', () => {
    expect(loadAgentConfig(env, ['--hub', 'http://hub:8686']).hubUrls).toEqual(['ws://hub:8686/api/agent'])
    expect(
      loadAgentConfig({ ...env, VIGIL_URL: 'https://a.example:8686, wss://b.example/vigil/' }, []).hubUrls,
    ).toEqual(['wss://a.example:8686/api/agent', 'wss://b.example/vigil/api/agent'])
  })

  it('refuses a list with a URL that is not a hub’s, or none at all, naming the variable', () => {
    expect(() => loadAgentConfig({ ...env, VIGIL_URL: 'ws://a:8686,ftp://b' }, [])).toThrow(
      new ConfigError(
        'VIGIL_URL (--hub)="ws://a:8686,ftp://b" is invalid: each hub URL is ws://, wss://, http:// or https:// host:port',
      ),
    )
    expect(() => loadAgentConfig(env, ['--hub', ' , '])).toThrow(
      new ConfigError('--hub=" , " is invalid: at least one hub URL'),
    )
  })

  it('trusts --hub-ca only for hubs that are all wss:// or https://', () => {
    expect(() => loadAgentConfig(env, ['--hub', 'wss://a,ws://b', '--hub-ca', 'ca.pem'])).toThrow(
      new ConfigError('--hub-ca trusts a certificate for wss:// (or https://) hubs; a hub URL given is not one'),
    )
    expect(loadAgentConfig(env, ['--hub', 'wss://a,https://b', '--hub-ca', 'ca.pem']).hubCa).toMatch(/ca\.pem$/)
  })
})
