export { Bus } from './bus.ts'
export { encodeComment, encodeFrame, encodeOpen } from './frame.ts'
export { Script } from './lua.ts'
export { type BusEvent, type Fanout, type Subscriber, Topics } from './topics.ts'
