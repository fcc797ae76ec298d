-- :SeroTerminal opens the folder's shell (inside its container) and :SeroLogs opens a log.
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local sero = require('sero')

H.run(function()
  H.edit()
  H.wait_statusline(30000, 'container')

  vim.cmd('SeroTerminal')
  H.wait(20000, function()
    return vim.b.sero_terminal ~= nil
  end, 'the terminal')
  H.R.terminal = vim.b.sero_terminal
  local term = vim.api.nvim_get_current_buf()
  vim.fn.chansend(vim.bo[term].channel, 'echo "$PWD:$((6*7))"\n')
  H.wait(20000, function()
    return table.concat(vim.api.nvim_buf_get_lines(term, 0, -1, false), '\n'):find(':42', 1, true) ~= nil
  end, 'the shell to answer')
  H.R.terminal_text = table.concat(vim.api.nvim_buf_get_lines(term, 0, -1, false), '\n')
  H.step('terminal')

  -- :SeroLogs, choosing sero-ls's own log in the picker.
  local want = assert(os.getenv('SERO_TEST_LOG'))
  vim.ui.select = function(items, _, on_choice)
    H.R.log_items = items
    for _, item in ipairs(items) do
      if item.path == want then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  vim.cmd('SeroLogs')
  H.wait(20000, function()
    return vim.api.nvim_buf_get_name(0) == want
  end, 'the log buffer')
  H.R.log_readonly = vim.bo.readonly
  H.R.log_lines = vim.api.nvim_buf_line_count(0)
  H.step('logs')
  H.R.statusline = sero.statusline()
end)
