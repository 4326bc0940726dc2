// puppeteer arrives only as a dependency of @memlab/heap-analysis (benchmark); never download a browser.
module.exports = { skipDownload: true };
