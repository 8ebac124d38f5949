export { Bus } from './bus.ts'
export { encodeComment, encodeFrame, encodeOpen } from './frame.ts'
export { type BusEvent, type Fanout, type Subscriber, Topics } from './topics.ts'
