# A Rack app for Puma (realcap `record_nodesw.sh`): /ok... 200; /raise... the app raises (Puma
# answers its own 500); /hijack... the app takes the socket over and closes it without an
# answer; /slow/<secs>/... answers after that delay.
run lambda { |env|
  path = env['PATH_INFO']
  parts = path.split('/').reject(&:empty?)
  case parts[0]
  when 'raise'
    raise "the app failed for #{path}"
  when 'hijack'
    env['rack.hijack'].call
    env['rack.hijack_io'].close
    [200, {}, []]
  when 'slow'
    sleep((parts[1] || 8).to_f)
    [200, { 'Content-Type' => 'text/plain' }, ["late hello #{path}\n"]]
  else
    [200, { 'Content-Type' => 'text/plain' }, ["hello from puma #{path}\n"]]
  end
}
