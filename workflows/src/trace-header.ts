/**
 * The Temporal header that carries a W3C `traceparent` from whoever started or woke a
 * workflow (the clocks' event consumers, inside the span of the event that caused it) to the
 * workflow and on to its activities. Shared by client, workflow and activity interceptors;
 * dependency-free, so workflow code may import it.
 */
export const TRACE_HEADER = "traceparent";
