// Import rules checked by spec/import-graph.spec.ts (npx depcruise lib middleware brokers).
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No module imports itself back through values (type-only imports are erased and may go both ways).",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "core-knows-no-policy",
      comment:
        "The core (lib/) knows no middleware policy: only the places that assemble a broker (the CLI, the package entry) or act through its middleware (the dashboard: Cancellation, Scheduler, a store URL) import middleware/. Brokers may: each adapter supplies the default chain.",
      severity: "error",
      from: { path: "^lib/", pathNot: "^lib/(cli/|dashboard/|index[.]ts$)" },
      to: { path: "^middleware/" },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
  },
};
