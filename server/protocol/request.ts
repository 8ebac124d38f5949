import { z } from 'zod'

/** A request id, echoed in the reply. */
export const RequestId = z.union([z.string().min(1).max(64), z.number().int().safe()])
export type RequestId = z.infer<typeof RequestId>
