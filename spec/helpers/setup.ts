// Loaded by mocha before any spec (see .mocharc.json).
// Specs log nothing unless DRAMATS_LOG_LEVEL asks for it: failures speak through assertions.
process.env.DRAMATS_LOG_LEVEL ??= "silent";
