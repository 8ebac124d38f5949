export { Bus, type BusEvent, type Subscriber } from './bus.ts'
export { encodeComment, encodeFrame, encodeOpen } from './frame.ts'
