// The DPoP keys a client uses: a new one per credential (generated, or the
// caller's pair), the one a stored credential names (imported once), and the
// proof handles of each key (one per server role).
import type { JWK } from 'jose'
import { LRUCache } from 'lru-cache'
import { createDpopHandles, generateDpopKey, importDpopKey } from './dpop.js'
import type { DpopKey, DpopRoleHandles } from './dpop.js'
import type { DpopSetting } from './options.js'

export interface DpopKeys {
  /** The key for a new credential; undefined when DPoP is off. */
  fresh (): Promise<DpopKey | undefined>
  /** The key a stored record names (its private JWK), else the caller's pair, else undefined. */
  of (jwk: JWK | undefined): Promise<DpopKey | undefined>
  handles (key: DpopKey): DpopRoleHandles
}

export function createDpopKeys (setting: DpopSetting | undefined): DpopKeys {
  const imported = new LRUCache<string, Promise<DpopKey>>({ max: 1000 })
  const handles = createDpopHandles()
  return {
    async fresh () {
      if (setting === undefined) return undefined
      return setting.key === 'generate' ? await generateDpopKey(setting.algorithm) : await setting.key
    },
    async of (jwk) {
      if (jwk !== undefined) {
        const id = JSON.stringify(jwk)
        let key = imported.get(id)
        if (key === undefined) {
          key = importDpopKey(jwk)
          imported.set(id, key)
        }
        return await key
      }
      return setting !== undefined && setting.key !== 'generate' ? await setting.key : undefined
    },
    handles,
  }
}
