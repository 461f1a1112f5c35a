-- Mailboxes::clear_mailbox. ARGV: name.
if redis.call('EXISTS', K(ARGV[1], 'node')) == 1 then clear_mail(ARGV[1]) end
return {0, wakes, touched}
