export { Bus, type BusEvent, type Subscriber } from './bus.ts'
export { encodeComment, encodeFrame, encodeRetry } from './frame.ts'
