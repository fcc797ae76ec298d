-- Shared by the drivers: a result table written as JSON to $SERO_TEST_OUT, waits with
-- deadlines, and counters for vim.notify calls and `User SeroStatusChanged` events.
local H = {}

H.R = { nvim = tostring(vim.version()), notifications = {}, status_events = 0, steps = {} }
local out = assert(os.getenv('SERO_TEST_OUT'), 'SERO_TEST_OUT unset')

local real_notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(H.R.notifications, { msg = msg, level = level })
  return real_notify(msg, level, opts)
end

vim.api.nvim_create_autocmd('User', {
  pattern = 'SeroStatusChanged',
  callback = function(ev)
    H.R.status_events = H.R.status_events + 1
    H.R.last_event = ev.data
  end,
})

local t0 = vim.uv.hrtime()
function H.step(name)
  table.insert(H.R.steps, ('%s at %d ms'):format(name, (vim.uv.hrtime() - t0) / 1e6))
end

--- Wait up to `ms` for `pred`, else fail with `what` (and the statusline, for the report).
function H.wait(ms, pred, what)
  if not vim.wait(ms, pred, 20) then
    error(('timed out after %d ms waiting for %s (statusline %q)'):format(ms, what,
      require('sero').statusline()), 0)
  end
end

function H.wait_statusline(ms, text)
  H.wait(ms, function()
    return require('sero').statusline() == text
  end, 'statusline ' .. vim.inspect(text))
end

--- Edit $SERO_TEST_FILE (or `path`) and wait until a sero client is attached to it.
function H.edit(path, client_name)
  path = path or assert(os.getenv('SERO_TEST_FILE'), 'SERO_TEST_FILE unset')
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  H.R.filetype = vim.bo[buf].filetype
  H.wait(30000, function()
    return #vim.lsp.get_clients({ bufnr = buf, name = client_name or 'sero_ls' }) > 0
  end, 'the client to attach')
  return buf
end

--- Lines of `:checkhealth sero`.
function H.checkhealth()
  vim.cmd('checkhealth sero')
  return vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

--- Runs `body` and writes the result; exits nvim with 0 or 1.
function H.run(body)
  local ok, err = xpcall(body, debug.traceback)
  if not ok then
    H.R.error = tostring(err)
  end
  H.R.statusline_final = require('sero').statusline()
  local f = assert(io.open(out, 'w'))
  f:write(vim.json.encode(H.R))
  f:close()
  for _, client in ipairs(vim.lsp.get_clients()) do
    client:stop()
  end
  vim.wait(3000, function()
    return #vim.lsp.get_clients() == 0
  end, 20)
  vim.cmd(ok and 'qa!' or 'cquit 1')
end

return H
