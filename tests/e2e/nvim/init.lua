-- The user init of every Neovim test run: the plugin on the runtimepath, as a plugin manager
-- would put it, and require('sero').setup() with the settings the test passes in
-- SERO_TEST_SETUP (JSON). SERO_TEST_SETUP=none leaves setup() uncalled.
vim.g.loaded_python3_provider = 0
vim.opt.runtimepath:prepend(assert(os.getenv('SERO_NVIM_PLUGIN'), 'SERO_NVIM_PLUGIN unset'))
vim.opt.shadafile = 'NONE'

local setup = os.getenv('SERO_TEST_SETUP')
if setup ~= 'none' then
  require('sero').setup(setup and vim.json.decode(setup) or {})
end
