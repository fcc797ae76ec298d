-- A container-backed folder: "container"; then the container is stopped behind the editor's
-- back ($SERO_TEST_STOP, a JSON argv) and the statusline and autocmd follow by themselves.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local sero = require('sero')

H.run(function()
  H.edit()
  H.wait_statusline(30000, 'container')
  H.step('container')
  H.R.status = sero.status()
  H.R.health = H.checkhealth()
  vim.cmd.tabclose()
  local events_before = H.R.status_events
  H.R.notifications_before_stop = #H.R.notifications

  local stop = vim.json.decode(assert(os.getenv('SERO_TEST_STOP')))
  local res = vim.system(stop, { text = true }):wait(30000)
  assert(res.code == 0, 'stop failed: ' .. vim.inspect(res))
  H.step('stopped')

  H.wait(30000, function()
    return sero.statusline() ~= 'container'
  end, 'the statusline to leave "container"')
  H.R.statusline_after_stop = sero.statusline()
  H.R.status_after_stop = sero.status()
  H.R.events_after_stop = H.R.status_events - events_before
  H.R.notifications_after_stop = vim.list_slice(H.R.notifications, H.R.notifications_before_stop + 1)
end)
