/**
 * The pub/sub port that GraphQL subscriptions fan out through. In the embedded profile it is in-process
 * (in-process.ts); the distributed profile plugs in a Redis implementation of the same interface, so every API
 * instance's subscribers see changes published by any instance (or by a single change publisher).
 *
 * Topics are strings such as `projectChanged:p_91be`; payloads are JSON-serialisable objects.
 */
export interface PubSub {
  publish(topic: string, payload: unknown): Promise<void>;
  /** Calls `listener` for every payload published to `topic` from now on; resolves to an unsubscribe function. */
  subscribe(topic: string, listener: (payload: unknown) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
