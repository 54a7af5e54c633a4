// The middleware base class and hook contract live in the core (lib/middleware.ts), which the
// broker dispatches through; this module keeps the `dramats/middleware/middleware` path.
export * from "../lib/middleware.ts";
