// Refuses to run the project's scripts on a Node.js below the supported line, with one
// line that says what to do. Written for old Node too: no syntax or API newer than Node 12.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  console.error(`fastify-mcp-auth needs Node.js >= 22.12 (this is ${process.versions.node}): \`bash scripts/install-node.sh 24 && export PATH="$PWD/.node/24/bin:$PATH"\` installs Node 24 into .node/ for this shell (\`bash .ci/run\` installs 22 and 24 and runs the tests on both).`)
  process.exit(1)
}
