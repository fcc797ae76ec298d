-- A folder whose container runtime is missing: the degraded statusline (cost measured), one
-- notification, :checkhealth sero, then :SeroRuntime host.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local sero = require('sero')

H.run(function()
  H.edit()
  H.wait_statusline(20000, 'host (degraded)')
  H.wait(20000, function()
    return (sero.status() or {}).reason == 'container-cli-missing'
  end, 'reason container-cli-missing (the per-folder containerCli setting)')
  H.step('degraded')
  H.R.status = sero.status()
  H.R.icon_text = sero.statusline({ icon = true })
  H.R.eval_plain = vim.api.nvim_eval_statusline("%{v:lua.require'sero'.statusline()}", {}).str
  H.R.eval_icon = vim.api.nvim_eval_statusline("%{v:lua.require'sero'.statusline('icon')}", {}).str
  local lualine = sero.lualine()
  H.R.lualine = lualine.cond() and lualine[1]() or false

  -- A second folder, configured per folder as host: its own statusline, then back to the first.
  local first = vim.api.nvim_get_current_buf()
  H.edit(os.getenv('SERO_TEST_FILE2'))
  H.wait_statusline(20000, 'host')
  H.R.second_status = sero.status()
  vim.api.nvim_set_current_buf(first)
  H.R.back_to_first = sero.statusline()

  local n = 10000
  local t0 = vim.uv.hrtime()
  for _ = 1, n do
    sero.statusline()
  end
  H.R.statusline_ns_per_call = (vim.uv.hrtime() - t0) / n

  -- Redraws must not notify again (nor the re-probed status of :SeroStatus! below).
  for _ = 1, 20 do
    vim.cmd.redrawstatus({ bang = true })
  end
  H.R.health = H.checkhealth()
  H.step('checkhealth')
  vim.cmd.tabclose()

  local seen = #H.R.notifications
  vim.cmd('SeroStatus!')
  H.wait(20000, function()
    return #H.R.notifications > seen
  end, ':SeroStatus output')
  H.R.sero_status_text = H.R.notifications[#H.R.notifications].msg

  H.step('SeroStatus')
  vim.cmd('SeroStartContainerSystem')
  H.wait(20000, function()
    return H.R.notifications[#H.R.notifications].msg:find('container system:', 1, true) ~= nil
  end, ':SeroStartContainerSystem answer')
  H.R.start_system_text = H.R.notifications[#H.R.notifications].msg
  H.step('SeroStartContainerSystem')

  local events_before = H.R.status_events
  vim.cmd('SeroRuntime host')
  H.wait_statusline(20000, 'host')
  H.step('host')
  H.R.events_on_toggle = H.R.status_events - events_before
  H.R.status_after = sero.status()

  -- setup() again with new per-folder settings: the running hub takes them without a restart.
  local setup = vim.json.decode(os.getenv('SERO_TEST_SETUP'))
  setup.folders[os.getenv('SERO_TEST_RESETUP_FOLDER')] = vim.json.decode(os.getenv('SERO_TEST_RESETUP_SETTINGS'))
  sero.setup(setup)
  vim.cmd.edit(vim.fn.fnameescape(os.getenv('SERO_TEST_FILE2')))
  H.wait_statusline(20000, 'host (degraded)')
  H.step('re-setup')
  H.R.second_after_resetup = sero.status()
end)
