// Preloaded with `node --require` into a CLI run: prints the process's peak RSS (in kB) to the file named
// by MAXRSS_FILE when it exits, so a test can check the client's memory without timing anything.
const fs = require('node:fs');
process.on('exit', () => {
  if (process.env.MAXRSS_FILE) fs.writeFileSync(process.env.MAXRSS_FILE, String(process.resourceUsage().maxRSS));
});
