-- A cloned folder whose .sero/config.toml names a hostile server command: nothing runs, the
-- status says untrusted, the Warning sits on the config; :SeroTrust (answered through
-- vim.ui.select, as a picker plugin would) starts the server in this session, no restart.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local sero = require('sero')
local marker = assert(os.getenv('SERO_TEST_MARKER'))

local function servers()
  local s = sero.status() or {}
  return s.servers or {}
end

H.run(function()
  local buf = H.edit()
  H.wait(20000, function()
    return type((sero.status() or {}).trust) == 'table'
  end, 'a status with trust')
  H.R.trust_before = sero.status().trust
  H.R.servers_before = #servers()
  H.R.marker_before = vim.uv.fs_stat(marker) ~= nil
  H.R.health = H.checkhealth()
  vim.cmd.tabclose()
  H.step('untrusted')

  local asked = {}
  vim.ui.select = function(items, opts, on_choice)
    asked[#asked + 1] = { items = items, prompt = opts.prompt }
    on_choice(H.answer or 'Trust')
  end
  -- Cancel first: still untrusted, nothing ran.
  H.answer = 'Cancel'
  vim.cmd('SeroTrust')
  H.wait(10000, function() return #asked == 1 end, 'the first question')
  H.R.marker_after_cancel = vim.uv.fs_stat(marker) ~= nil
  H.answer = 'Trust'
  vim.cmd('SeroTrust')
  H.wait(10000, function() return #asked == 2 end, 'the second question')
  H.R.asked = asked
  H.wait(30000, function()
    local all = servers()
    return #all == 1 and all[1].state == 'running'
  end, 'the trusted server running')
  H.step('trusted')
  H.R.trust_after = sero.status().trust
  H.R.marker_after = vim.uv.fs_stat(marker) ~= nil
  H.R.same_client = #vim.lsp.get_clients({ bufnr = buf, name = 'sero_ls' }) == 1

  vim.cmd('SeroTrust revoke')
  H.wait(20000, function()
    return ((sero.status() or {}).trust or {}).state == 'untrusted' and #servers() == 0
  end, 'revoked: untrusted, no server')
  H.step('revoked')
end)
