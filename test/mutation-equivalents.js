// Surviving mutants that change no behaviour, each with the reason (test/MUTATION.md).
// scripts/mutation-summary.js matches an entry to a survivor by module, the line's text,
// mutator and replacement; a survivor without an entry fails `npm run test:mutation`.
// An entry says why no test can tell the mutant from the code; it is never a place for
// a behaviour that merely lacks a test.
export default []
