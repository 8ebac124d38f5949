/** Whether an event logged under `topic` is on one of the subscribed `topics`. */
export function inTopics(topics: readonly string[], topic: string): boolean {
  return topics.includes(topic)
}
