/**
 * Splits a decoded SSE byte stream into frames (the text between blank lines). Returns the function to feed
 * each chunk to; `onFrame` gets every complete frame with the time its last chunk arrived.
 */
export function frameSplitter(onFrame: (frame: string, at: number) => void): (chunk: string) => void {
  let buf = ''
  return (chunk) => {
    const at = performance.timeOrigin + performance.now()
    buf += chunk
    let end = buf.indexOf('\n\n')
    while (end >= 0) {
      onFrame(buf.slice(0, end), at)
      buf = buf.slice(end + 2)
      end = buf.indexOf('\n\n')
    }
  }
}
