// Runs before every test file. Keeps test output free of colour codes so the CI line parses.
process.env.NO_COLOR = '1';
