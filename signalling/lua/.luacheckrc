-- luacheck configuration for the staffroom Redis Functions library (make test runs luacheck here).
std = 'lua51' -- Redis runs Lua 5.1
-- What Redis gives scripts; none of it may be assigned. KEYS and ARGV exist for EVAL scripts only: a
-- library function gets its keys and arguments as parameters (named keys, args here), so a helper that
-- reads ARGV would fail at run time; luacheck flags it as an undefined variable only if ARGV is not
-- declared, hence KEYS and ARGV are left out on purpose.
read_globals = {'redis', 'cjson', 'cmsgpack', 'bit', 'struct'}
-- Feature files run after lib.lua in one chunk and see its table `lib` (lib.lua defines it).
files['*.lua'] = {read_globals = {'lib'}}
files['lib.lua'] = {read_globals = {}}
-- Every function has the signature (keys, args); not every one uses both.
ignore = {'212/keys', '212/args'}
max_line_length = 140
