-- Open the file and report the first status the statusline shows (e.g. after a restart).
local H = dofile(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)) .. '/harness.lua')
local sero = require('sero')

H.run(function()
  H.edit()
  H.wait(20000, function()
    return sero.statusline() ~= ''
  end, 'a status')
  H.R.statusline = sero.statusline()
  H.R.status = sero.status()
end)
